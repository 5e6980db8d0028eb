package jobs_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/thermo/thermo"
	"github.com/thermo/thermo/internal/logbuf"
	"github.com/thermo/thermo/jobs"
	"github.com/thermo/thermo/mock"
	"github.com/thermo/thermo/postgres"
)

// statsBundle is a New York tenant with one device, and the services the
// statistics jobs use.
type statsBundle struct {
	db       *postgres.DB
	ctx      context.Context
	tenant   *thermo.Tenant
	device   int64
	stats    *postgres.StatsService
	readings *postgres.ReadingService
	queue    string
	logs     *syncBuffer
}

func setupStats(t *testing.T) *statsBundle {
	t.Helper()
	ctx := context.Background()
	db := openDB(t)
	suffix := randomSuffix()
	sb := &statsBundle{db: db, queue: "q_js_" + suffix, logs: &syncBuffer{},
		tenant: &thermo.Tenant{ID: "js_" + suffix, TimeZone: "America/New_York", RetentionDays: 30},
		stats:  postgres.NewStatsService(db), readings: postgres.NewReadingService(db)}
	createTenant(t, db, sb.tenant, sb.queue)
	sb.readings.AfterIngest = append(sb.readings.AfterIngest, sb.stats.MarkLateReadings)
	sb.ctx = thermo.WithTenant(ctx, sb.tenant.ID)
	dev := &thermo.Device{SerialNumber: "SN-1", Name: "one"}
	if err := postgres.NewDeviceService(db).CreateDevice(sb.ctx, dev); err != nil {
		t.Fatal(err)
	}
	sb.device = dev.ID
	return sb
}

func (sb *statsBundle) ingest(t *testing.T, temp float64, at ...string) {
	t.Helper()
	var rs []thermo.Reading
	for _, s := range at {
		ts, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, thermo.Reading{RecordedAt: ts, TemperatureCelsius: temp})
	}
	if _, err := sb.readings.IngestReadings(sb.ctx, sb.device, rs); err != nil {
		t.Fatal(err)
	}
}

// startClient starts a River client working the bundle's queue.
func (sb *statsBundle) startClient(t *testing.T, deps jobs.StatsDeps) *jobs.Client {
	t.Helper()
	workers := river.NewWorkers()
	jobs.RegisterStats(workers, deps)
	logger := slog.New(thermo.NewLogHandler(slog.NewJSONHandler(sb.logs, nil)))
	c, err := jobs.New(jobs.Opts{Pool: sb.db.Pool(), Workers: workers, Logger: logger,
		Queues: map[string]river.QueueConfig{sb.queue: {MaxWorkers: 4}}, TestOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop(context.Background()) })
	return c
}

// waitJobs waits until want fanned-out jobs of the queue completed and
// returns the count of each kind (late passes apart).
func (sb *statsBundle) waitJobs(t *testing.T, want int) map[string]int {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		rows, err := sb.db.Pool().Query(context.Background(), `SELECT kind, args, state FROM river.river_job
			WHERE queue = $1 AND kind <> 'stats_fan_out'`, sb.queue)
		if err != nil {
			t.Fatal(err)
		}
		kinds, done, total := map[string]int{}, 0, 0
		for rows.Next() {
			var kind, state string
			var args jobs.AggregateDayArgs
			var raw []byte
			if err := rows.Scan(&kind, &raw, &state); err != nil {
				t.Fatal(err)
			}
			_ = json.Unmarshal(raw, &args)
			if args.Late {
				kind += "/late"
			}
			kinds[kind+" "+args.Date]++
			total++
			if state == "completed" {
				done++
			}
		}
		if rows.Err() != nil {
			t.Fatal(rows.Err())
		}
		if total >= want && done == total {
			return kinds
		}
		if time.Now().After(deadline) {
			t.Fatalf("jobs %v: %d of %d completed\nlogs: %s", kinds, done, total, sb.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitFanOuts waits until n fan-out jobs of the queue completed.
func (sb *statsBundle) waitFanOuts(t *testing.T, n int) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var done int
		err := sb.db.Pool().QueryRow(context.Background(), `SELECT count(*) FROM river.river_job
			WHERE queue = $1 AND kind = 'stats_fan_out' AND state = 'completed'`, sb.queue).Scan(&done)
		if err != nil {
			t.Fatal(err)
		}
		if done >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d fan-outs completed", done, n)
		}
	}
}

// Two clients each run a fan-out: every tenant-day is enqueued and worked
// once, late marks get their own pass, retention deletes old readings in
// batches and keeps statistics, and each job logs its tenant and job id.
func TestStatsJobsFanOut(t *testing.T) {
	t.Parallel()
	sb := setupStats(t)
	now, _ := time.Parse(time.RFC3339, "2026-03-09T12:00:00Z") // 08:00 EDT on the 9th
	// The 8th (23 h DST day), a late-marked 7th and an expired 1st of January.
	sb.ingest(t, 10, "2026-03-08T05:00:00Z", "2026-03-09T03:59:59Z")
	sb.ingest(t, 30, "2026-03-08T04:00:00Z") // 23:00 EST on the 7th
	sb.ingest(t, -1, "2026-01-01T12:00:00Z", "2026-01-01T12:00:01Z", "2026-01-01T12:00:02Z",
		"2026-01-01T12:00:03Z", "2026-01-01T12:00:04Z")
	if _, err := sb.stats.AggregateDay(sb.ctx, mustDate(t, "2026-01-01")); err != nil {
		t.Fatal(err)
	}

	var purges atomic.Int64
	deps := jobs.StatsDeps{Stats: sb.stats, Queue: sb.queue, PurgeBatch: 2,
		Logger: slog.New(thermo.NewLogHandler(slog.NewJSONHandler(sb.logs, nil))),
		Now:    func() time.Time { return now },
		Tenants: &mock.TenantService{ // only this test's tenant, not every test's
			ListTenantsFn: func(context.Context) ([]*thermo.Tenant, error) { return []*thermo.Tenant{sb.tenant}, nil },
			FindTenantByIDFn: func(context.Context, string) (*thermo.Tenant, error) {
				return sb.tenant, nil
			},
		},
		Readings: &mock.ReadingService{PurgeReadingsFn: func(ctx context.Context, cutoff time.Time, n int) (int64, error) {
			purges.Add(1)
			return sb.readings.PurgeReadings(ctx, cutoff, n)
		}},
	}
	a, b := sb.startClient(t, deps), sb.startClient(t, deps)
	var wg sync.WaitGroup
	for _, c := range []*jobs.Client{a, b} {
		wg.Go(func() {
			if _, err := c.Enqueue(context.Background(), jobs.StatsFanOutArgs{}, &river.InsertOpts{Queue: sb.queue}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	// The readings of the 8th were posted "late" too (the test runs after
	// it), so the 8th also has a late pass: redundant, harmless.
	kinds := sb.waitJobs(t, 4)
	want := map[string]int{"aggregate_day 2026-03-08": 1, "aggregate_day/late 2026-03-07": 1,
		"aggregate_day/late 2026-03-08": 1, "purge_readings 2026-03-09": 1}
	if !maps.Equal(kinds, want) {
		t.Fatalf("jobs = %v, want %v", kinds, want)
	}
	for day, count := range map[string]int{"2026-03-08": 2, "2026-03-07": 1, "2026-01-01": 5} {
		got, err := sb.stats.FindDailyStats(sb.ctx, sb.device, mustDate(t, day), mustDate(t, day))
		if err != nil || len(got) != 1 || got[0].Count != count {
			t.Errorf("stats of %s = %v, %v; want count %d", day, got, err, count)
		}
	}
	var left int
	_ = sb.db.ReadTx(sb.ctx, func(ctx context.Context) error {
		tx, _ := postgres.TxFromContext(ctx)
		return tx.QueryRow(ctx, "SELECT count(*) FROM readings WHERE recorded_at < '2026-02-01'").Scan(&left)
	})
	if left != 0 || purges.Load() < 3 {
		t.Errorf("expired readings left %d after %d purge batches", left, purges.Load())
	}
	if !logHas(sb.logs.String(), "aggregated tenant-day", sb.tenant.ID) {
		t.Errorf("job logs lack tenant and job id:\n%s", sb.logs)
	}

	// A third fan-out finds everything done: nothing new is enqueued.
	if _, err := a.Enqueue(context.Background(), jobs.StatsFanOutArgs{}, &river.InsertOpts{Queue: sb.queue}); err != nil {
		t.Fatal(err)
	}
	sb.waitFanOuts(t, 3)
	if again := sb.waitJobs(t, 4); !maps.Equal(again, want) {
		t.Fatalf("re-run enqueued more: %v", again)
	}
}

// logHas reports whether a JSON log line with msg carries tenant and a job id.
func logHas(logs, msg, tenant string) bool {
	for line := range strings.SplitSeq(logs, "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil || rec["msg"] != msg {
			continue
		}
		if rec["tenant"] == tenant && rec["job_id"] != nil {
			return true
		}
	}
	return false
}

func mustDate(t *testing.T, s string) time.Time {
	t.Helper()
	d, err := thermo.ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// syncBuffer is a bytes.Buffer safe for concurrent log writers.
type syncBuffer = logbuf.Buffer
