package jobs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/thermo/thermo"
	"github.com/thermo/thermo/jobs"
	"github.com/thermo/thermo/postgres"
	"github.com/thermo/thermo/webhook"
)

// notifyBundle is a tenant with a device, an "above 30 °C" rule, a webhook
// at a test server answering statuses in turn, and a running River client
// working the notification queue of this test only.
type notifyBundle struct {
	ctx      context.Context // tenant + request id
	db       *postgres.DB
	readings *postgres.ReadingService
	alerts   *postgres.AlertService
	device   *thermo.Device
	queue    string
	logs     *lockedBuffer
	hits     chan []byte // bodies with a valid signature
}

func setupNotify(t *testing.T, maxAttempts int, statuses ...int) *notifyBundle {
	t.Helper()
	ctx := context.Background()
	db := openDB(t)
	tenant := "n_" + randomSuffix()
	createTenant(t, db, &thermo.Tenant{ID: tenant}, "")
	nb := &notifyBundle{
		ctx: thermo.WithRequestID(thermo.WithTenant(ctx, tenant), "req-"+tenant),
		db:  db, readings: postgres.NewReadingService(db), alerts: postgres.NewAlertService(db),
		queue: "q_" + tenant, logs: &lockedBuffer{}, hits: make(chan []byte, 16),
	}
	const secret = "0123456789abcdef-secret"
	srv := nb.webhookServer(t, secret, statuses)
	if err := nb.alerts.SetWebhook(nb.ctx, &thermo.Webhook{URL: srv.URL, Secret: secret}); err != nil {
		t.Fatal(err)
	}
	nb.device = &thermo.Device{SerialNumber: "SN-N"}
	if err := postgres.NewDeviceService(db).CreateDevice(nb.ctx, nb.device); err != nil {
		t.Fatal(err)
	}
	rule := &thermo.AlertRule{DeviceID: nb.device.ID, Condition: thermo.ConditionAbove, ThresholdCelsius: 30, IsEnabled: true}
	if err := nb.alerts.CreateAlertRule(nb.ctx, rule); err != nil {
		t.Fatal(err)
	}
	nb.startWorker(t, maxAttempts)
	return nb
}

// webhookServer answers statuses in turn (then 200) and passes on the
// bodies whose signature verifies.
func (nb *notifyBundle) webhookServer(t *testing.T, secret string, statuses []int) *httptest.Server {
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !webhook.Verify(body, secret, r.Header.Get(webhook.SignatureHeader)) {
			t.Errorf("bad signature %q", r.Header.Get(webhook.SignatureHeader))
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		nb.hits <- body
		mu.Lock()
		defer mu.Unlock()
		if len(statuses) > 0 {
			w.WriteHeader(statuses[0])
			statuses = statuses[1:]
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func (nb *notifyBundle) startWorker(t *testing.T, maxAttempts int) {
	t.Helper()
	logger := slog.New(thermo.NewLogHandler(slog.NewJSONHandler(nb.logs, nil)))
	opts := jobs.NotifyOpts{
		Alerts: nb.alerts, Notifier: webhook.New(nb.alerts), Logger: logger,
		Queue: nb.queue, MaxAttempts: maxAttempts, RetryBase: time.Millisecond,
	}
	workers := river.NewWorkers()
	jobs.RegisterNotify(workers, opts)
	client, err := jobs.New(jobs.Opts{Pool: nb.db.Pool(), Workers: workers,
		Queues: map[string]river.QueueConfig{nb.queue: {MaxWorkers: 2}}, TestOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Stop(context.Background()) })
	nb.alerts.OnFireFunc = jobs.NotifyAlertFunc(client, opts)
	nb.readings.AfterIngest = append(nb.readings.AfterIngest, nb.alerts.EvaluateReadings)
}

func (nb *notifyBundle) fireAlert(t *testing.T) *thermo.Alert {
	t.Helper()
	r := thermo.Reading{RecordedAt: time.Now().Add(-time.Minute), TemperatureCelsius: 45}
	if _, err := nb.readings.IngestReading(nb.ctx, nb.device.ID, &r); err != nil {
		t.Fatal(err)
	}
	as, _, err := nb.alerts.FindAlerts(nb.ctx, thermo.AlertFilter{})
	if err != nil || len(as) != 1 {
		t.Fatalf("alerts = %v, %v", as, err)
	}
	return as[0]
}

// waitNotification polls until the alert's notification reaches status.
func (nb *notifyBundle) waitNotification(t *testing.T, id int64, status string) *thermo.NotificationStatus {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		a, err := nb.alerts.FindAlertByID(nb.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if a.Notification != nil && a.Notification.Status == status {
			return a.Notification
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("notification of alert %d never became %s", id, status)
	return nil
}

// TestNotifyRetriesUntilDelivered: the webhook fails twice, then succeeds;
// every attempt is signed, the outcome is recorded and the job's logs carry
// the ingest's request id.
func TestNotifyRetriesUntilDelivered(t *testing.T) {
	t.Parallel()
	nb := setupNotify(t, 5, http.StatusInternalServerError, http.StatusBadGateway)
	a := nb.fireAlert(t)
	st := nb.waitNotification(t, a.ID, thermo.NotifyDelivered)
	if st.Attempts != 3 || len(nb.hits) != 3 {
		t.Fatalf("delivered after %d attempts, %d requests; want 3", st.Attempts, len(nb.hits))
	}
	var ev thermo.AlertEvent
	if err := json.Unmarshal(<-nb.hits, &ev); err != nil || ev.Alert == nil || ev.Alert.ID != a.ID || ev.Type != "alert.fired" ||
		ev.Alert.Rule == nil || ev.Alert.TemperatureCelsius != 45 {
		t.Fatalf("event = %+v, %v", ev, err)
	}
	var delivered map[string]any
	for line := range strings.SplitSeq(nb.logs.String(), "\n") {
		if strings.Contains(line, "alert notification delivered") {
			_ = json.Unmarshal([]byte(line), &delivered)
		}
	}
	if delivered["request_id"] != thermo.RequestIDFromContext(nb.ctx) || delivered["job_id"] == nil {
		t.Fatalf("delivery log %v lacks request id %s; logs:\n%s", delivered, thermo.RequestIDFromContext(nb.ctx), nb.logs)
	}
}

// TestNotifyGivesUp: a webhook that always fails is tried MaxAttempts
// times and the failure recorded.
func TestNotifyGivesUp(t *testing.T) {
	t.Parallel()
	nb := setupNotify(t, 3, 500, 500, 500, 500, 500)
	a := nb.fireAlert(t)
	st := nb.waitNotification(t, a.ID, thermo.NotifyFailed)
	if st.Attempts != 3 || !strings.Contains(st.LastError, "500") {
		t.Fatalf("failed notification = %+v", st)
	}
}

// TestNotifyRollback: an ingest that rolls back after firing leaves no
// alert and no job.
func TestNotifyRollback(t *testing.T) {
	t.Parallel()
	nb := setupNotify(t, 3)
	boom := errors.New("later hook failed")
	nb.readings.AfterIngest = append(nb.readings.AfterIngest, func(context.Context, int64, []*thermo.Reading) error { return boom })
	r := thermo.Reading{RecordedAt: time.Now().Add(-time.Minute), TemperatureCelsius: 45}
	if _, err := nb.readings.IngestReading(nb.ctx, nb.device.ID, &r); !errors.Is(err, boom) {
		t.Fatalf("ingest err = %v", err)
	}
	var jobsQueued int
	if err := nb.db.Pool().QueryRow(nb.ctx, "SELECT count(*) FROM river.river_job WHERE queue = $1", nb.queue).Scan(&jobsQueued); err != nil {
		t.Fatal(err)
	}
	as, _, err := nb.alerts.FindAlerts(nb.ctx, thermo.AlertFilter{})
	if err != nil || len(as) != 0 || jobsQueued != 0 {
		t.Fatalf("after rollback: %d alerts (%v), %d jobs", len(as), err, jobsQueued)
	}
	// The same reading, committed, notifies.
	nb.readings.AfterIngest = nb.readings.AfterIngest[:len(nb.readings.AfterIngest)-1]
	a := nb.fireAlert(t)
	nb.waitNotification(t, a.ID, thermo.NotifyDelivered)
}

// lockedBuffer is a log sink safe for concurrent writers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
