package postgres_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/thermo/thermo"
	"github.com/thermo/thermo/postgres"
)

// readingBundle is a tenant with one active device and the services.
type readingBundle struct {
	*bundle
	ctx      context.Context
	tenant   string
	devices  *postgres.DeviceService
	readings *postgres.ReadingService
	device   *thermo.Device
}

func setupReadings(t *testing.T) *readingBundle {
	t.Helper()
	b := setup(t)
	rb := &readingBundle{
		bundle:   b,
		tenant:   b.newTenant(t),
		devices:  postgres.NewDeviceService(b.db),
		readings: postgres.NewReadingService(b.db),
	}
	rb.ctx = thermo.WithTenant(context.Background(), rb.tenant)
	rb.device = createDevice(t, rb.ctx, rb.devices, &thermo.Device{SerialNumber: "SN-1"})
	return rb
}

// count returns the number of readings of the tenant.
func (rb *readingBundle) count(t *testing.T) int {
	t.Helper()
	var n int
	err := rb.db.ReadTx(rb.ctx, func(ctx context.Context) error {
		tx, _ := postgres.TxFromContext(ctx)
		return tx.QueryRow(ctx, "SELECT count(*) FROM readings").Scan(&n)
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// generate inserts n readings for device, one every step back from newest,
// server-side.
func (rb *readingBundle) generate(t testing.TB, deviceID int64, n int, newest time.Time, step time.Duration) {
	t.Helper()
	ctx := rb.ctx
	err := rb.db.InTx(ctx, func(ctx context.Context) error {
		tx, _ := postgres.TxFromContext(ctx)
		_, err := tx.Exec(ctx, `
			INSERT INTO readings (device_id, recorded_at, temperature_celsius, humidity)
			SELECT $1, $2::timestamptz - g * $3::interval, 20 + (g % 100) / 10.0, 50
			FROM generate_series(0, $4 - 1) g`, deviceID, newest, step, n)
		return err
	})
	if err != nil {
		t.Fatalf("generate readings: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

func TestIngestReading_DuplicateRetryReturnsStored(t *testing.T) {
	t.Parallel()
	rb := setupReadings(t)
	at := time.Now().Add(-time.Minute).Round(0)
	r := &thermo.Reading{TemperatureCelsius: 21.5, Humidity: ptr(40.0), RecordedAt: at}
	created, err := rb.readings.IngestReading(rb.ctx, rb.device.ID, r)
	if err != nil || !created || r.ID == 0 || r.DeviceID != rb.device.ID || !r.RecordedAt.Equal(at.Truncate(time.Microsecond)) {
		t.Fatalf("first = %+v, created %v, %v", r, created, err)
	}
	first := *r
	retry := &thermo.Reading{TemperatureCelsius: 99, RecordedAt: at}
	created, err = rb.readings.IngestReading(rb.ctx, rb.device.ID, retry)
	if err != nil || created || retry.ID != first.ID || retry.TemperatureCelsius != 21.5 {
		t.Fatalf("retry = %+v, created %v, %v; want the stored reading", retry, created, err)
	}
	if n := rb.count(t); n != 1 {
		t.Fatalf("rows = %d, want 1", n)
	}
}

func TestIngestReading_UnknownAndInactiveDevice(t *testing.T) {
	t.Parallel()
	rb := setupReadings(t)
	r := thermo.Reading{TemperatureCelsius: 20, RecordedAt: time.Now()}
	_, err := rb.readings.IngestReading(rb.ctx, rb.device.ID+1, &r)
	wantCode(t, err, thermo.ENOTFOUND)
	if _, err := rb.devices.DeactivateDevice(rb.ctx, rb.device.ID); err != nil {
		t.Fatal(err)
	}
	_, err = rb.readings.IngestReading(rb.ctx, rb.device.ID, &r)
	wantCode(t, err, thermo.ECONFLICT)
	_, err = rb.readings.IngestReadings(rb.ctx, rb.device.ID, []thermo.Reading{r})
	wantCode(t, err, thermo.ECONFLICT)
}

func TestIngestReading_Validation(t *testing.T) {
	t.Parallel()
	rb := setupReadings(t)
	r := thermo.Reading{TemperatureCelsius: -300, BatteryLevel: ptr(1.5), RecordedAt: time.Now().Add(10 * time.Minute)}
	_, err := rb.readings.IngestReading(rb.ctx, rb.device.ID, &r)
	var te *thermo.Error
	if !errors.As(err, &te) || te.Code != thermo.EINVALID || len(te.Fields) != 3 {
		t.Fatalf("error = %+v, want 3 invalid fields", err)
	}
}

func TestIngestReadings_CountsDuplicates(t *testing.T) {
	t.Parallel()
	rb := setupReadings(t)
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	batch := []thermo.Reading{
		{TemperatureCelsius: 20, RecordedAt: base},
		{TemperatureCelsius: 21, RecordedAt: base.Add(time.Second)},
		{TemperatureCelsius: 22, RecordedAt: base}, // repeat within the batch
	}
	res, err := rb.readings.IngestReadings(rb.ctx, rb.device.ID, batch)
	if err != nil || *res != (thermo.IngestResult{Received: 3, Inserted: 2, Duplicates: 1}) {
		t.Fatalf("first batch = %+v, %v", res, err)
	}
	batch = append(batch, thermo.Reading{TemperatureCelsius: 23, RecordedAt: base.Add(2 * time.Second)})
	res, err = rb.readings.IngestReadings(rb.ctx, rb.device.ID, batch)
	if err != nil || *res != (thermo.IngestResult{Received: 4, Inserted: 1, Duplicates: 3}) {
		t.Fatalf("retried batch = %+v, %v", res, err)
	}
	if n := rb.count(t); n != 3 {
		t.Fatalf("rows = %d, want 3", n)
	}
}

func TestIngestReadings_InvalidBatchWritesNothing(t *testing.T) {
	t.Parallel()
	rb := setupReadings(t)
	now := time.Now()
	batch := make([]thermo.Reading, 100)
	for i := range batch {
		batch[i] = thermo.Reading{TemperatureCelsius: 20, RecordedAt: now.Add(-time.Duration(i) * time.Second)}
	}
	batch[3].TemperatureCelsius = 1000.5
	batch[97].Humidity = ptr(-1.0)
	batch[97].RecordedAt = time.Time{}
	_, err := rb.readings.IngestReadings(rb.ctx, rb.device.ID, batch)
	var te *thermo.Error
	if !errors.As(err, &te) || te.Code != thermo.EINVALID {
		t.Fatalf("error = %v, want invalid", err)
	}
	var fields []string
	for _, f := range te.Fields {
		fields = append(fields, f.Field)
	}
	want := "readings[3].temperatureCelsius readings[97].humidity readings[97].recordedAt"
	if got := strings.Join(fields, " "); got != want {
		t.Errorf("fields = %s, want %s", got, want)
	}
	if n := rb.count(t); n != 0 {
		t.Fatalf("rows = %d after a rejected batch, want 0", n)
	}
}

func TestIngestReadings_TooManyOrNone(t *testing.T) {
	t.Parallel()
	rb := setupReadings(t)
	_, err := rb.readings.IngestReadings(rb.ctx, rb.device.ID, make([]thermo.Reading, thermo.MaxBatchReadings+1))
	wantCode(t, err, thermo.ETOOLARGE)
	_, err = rb.readings.IngestReadings(rb.ctx, rb.device.ID, nil)
	wantCode(t, err, thermo.EINVALID)
}

func TestIngestReadings_CheckConstraintsBackValidation(t *testing.T) {
	t.Parallel()
	rb := setupReadings(t)
	for _, values := range []string{
		"now(), 'NaN', NULL, NULL",
		"now(), 'Infinity', NULL, NULL",
		"now(), -273.16, NULL, NULL",
		"now(), 20, 100.1, NULL",
		"now(), 20, NULL, 1.01",
		"now() + interval '6 minutes', 20, NULL, NULL",
	} {
		err := rb.db.InTx(rb.ctx, func(ctx context.Context) error {
			tx, _ := postgres.TxFromContext(ctx)
			_, err := tx.Exec(ctx, "INSERT INTO readings (device_id, recorded_at, temperature_celsius, humidity, battery_level) VALUES ($1, "+values+")", rb.device.ID)
			return err
		})
		if err == nil || !strings.Contains(err.Error(), "23514") {
			t.Errorf("insert (%s) = %v, want a check violation", values, err)
		}
	}
}

func TestIngestReadings_AfterIngestSeesNewRowsInTx(t *testing.T) {
	t.Parallel()
	rb := setupReadings(t)
	base := time.Now().Add(-time.Hour)
	var seen []*thermo.Reading
	rb.readings.AfterIngest = []postgres.IngestHook{func(ctx context.Context, deviceID int64, inserted []*thermo.Reading) error {
		if _, ok := postgres.TxFromContext(ctx); !ok {
			t.Error("AfterIngest ran outside the ingestion transaction")
		}
		seen = inserted
		if inserted[0].TemperatureCelsius > 50 {
			return thermo.Errorf(thermo.EINTERNAL, "alert evaluation failed")
		}
		return nil
	}}
	batch := []thermo.Reading{{TemperatureCelsius: 20, RecordedAt: base}, {TemperatureCelsius: 21, RecordedAt: base.Add(time.Second)}}
	if _, err := rb.readings.IngestReadings(rb.ctx, rb.device.ID, batch); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2 || seen[0].ID == 0 || seen[1].DeviceID != rb.device.ID {
		t.Fatalf("AfterIngest saw %+v", seen)
	}
	seen = nil
	if _, err := rb.readings.IngestReadings(rb.ctx, rb.device.ID, batch); err != nil || seen != nil {
		t.Fatalf("all-duplicate batch: err %v, AfterIngest saw %v; want no call", err, seen)
	}
	_, err := rb.readings.IngestReadings(rb.ctx, rb.device.ID, []thermo.Reading{{TemperatureCelsius: 60, RecordedAt: base.Add(time.Minute)}})
	if err == nil {
		t.Fatal("ingest succeeded although AfterIngest failed")
	}
	if n := rb.count(t); n != 2 {
		t.Fatalf("rows = %d, want 2: a failed AfterIngest must roll back", n)
	}
}

func TestLatestReadings(t *testing.T) {
	t.Parallel()
	rb := setupReadings(t)
	quiet := createDevice(t, rb.ctx, rb.devices, &thermo.Device{SerialNumber: "SN-0", Name: "A quiet one"})
	_, err := rb.readings.FindLatestReading(rb.ctx, quiet.ID)
	wantCode(t, err, thermo.ENOTFOUND)
	_, err = rb.readings.FindLatestReading(rb.ctx, quiet.ID+100)
	wantCode(t, err, thermo.ENOTFOUND)

	newest := time.Now().Add(-time.Minute).Truncate(time.Second).UTC()
	rb.generate(t, rb.device.ID, 100, newest, 30*time.Second)
	r, err := rb.readings.FindLatestReading(rb.ctx, rb.device.ID)
	if err != nil || !r.RecordedAt.Equal(newest) {
		t.Fatalf("latest = %+v, %v; want recorded at %v", r, err, newest)
	}
	all, err := rb.readings.FindLatestReadings(rb.ctx)
	if err != nil || len(all) != 2 {
		t.Fatalf("latest of all = %v, %v", all, err)
	}
	if all[0].Device.ID != quiet.ID || all[0].Reading != nil {
		t.Errorf("first = %+v, want the quiet device without a reading", all[0])
	}
	if all[1].Device.ID != rb.device.ID || all[1].Reading == nil || all[1].Reading.ID != r.ID || *all[1].Reading.Humidity != 50 {
		t.Errorf("second = %+v, want %+v", all[1].Reading, r)
	}
}

func TestReadingHistory(t *testing.T) {
	t.Parallel()
	rb := setupReadings(t)
	other := createDevice(t, rb.ctx, rb.devices, &thermo.Device{SerialNumber: "SN-2"})
	newest := time.Now().Add(-time.Minute).Truncate(time.Second).UTC()
	rb.generate(t, rb.device.ID, 250, newest, time.Minute)
	rb.generate(t, other.ID, 250, newest, time.Minute) // same instants, other device

	var all []*thermo.Reading
	f := thermo.ReadingFilter{Limit: 100}
	for {
		page, more, err := rb.readings.FindReadings(rb.ctx, rb.device.ID, f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if !more {
			break
		}
		f.Before = page[len(page)-1].RecordedAt
	}
	if len(all) != 250 {
		t.Fatalf("paged %d readings, want 250", len(all))
	}
	for i, r := range all {
		if r.DeviceID != rb.device.ID || !r.RecordedAt.Equal(newest.Add(-time.Duration(i)*time.Minute)) {
			t.Fatalf("reading %d = %+v, want newest first without gaps", i, r)
		}
	}

	from, to := newest.Add(-59*time.Minute), newest.Add(-9*time.Minute)
	page, more, err := rb.readings.FindReadings(rb.ctx, rb.device.ID, thermo.ReadingFilter{From: from, To: to, MinTemp: ptr(25.0), MaxTemp: ptr(28.0)})
	if err != nil || more {
		t.Fatalf("filtered = %d, more %v, %v", len(page), more, err)
	}
	for _, r := range page {
		if r.RecordedAt.Before(from) || !r.RecordedAt.Before(to) || r.TemperatureCelsius < 25 || r.TemperatureCelsius > 28 {
			t.Errorf("reading %+v outside the filter", r)
		}
	}
	if len(page) != 10 { // minutes 50..59 back: 25.0 to 25.9 °C
		t.Errorf("filtered = %d readings, want 10", len(page))
	}

	_, _, err = rb.readings.FindReadings(rb.ctx, rb.device.ID, thermo.ReadingFilter{From: to, To: from})
	wantCode(t, err, thermo.EINVALID)
	_, _, err = rb.readings.FindReadings(rb.ctx, other.ID+1, thermo.ReadingFilter{})
	wantCode(t, err, thermo.ENOTFOUND)
}

func TestHourlyReadings(t *testing.T) {
	t.Parallel()
	rb := setupReadings(t)
	rb.generate(t, rb.device.ID, 240, time.Now(), 30*time.Second) // the last two hours
	hours, err := rb.readings.FindHourlyReadings(rb.ctx, rb.device.ID, 5)
	if err != nil || len(hours) != 5 {
		t.Fatalf("hourly = %d buckets, %v; want 5", len(hours), err)
	}
	total := 0
	for i, h := range hours {
		total += h.Count
		if i > 0 && !h.Hour.Equal(hours[i-1].Hour.Add(time.Hour)) {
			t.Errorf("hour %d = %v, not one hour after the previous", i, h.Hour)
		}
		if h.Count == 0 && h.Avg != nil || h.Count > 0 && (*h.Min > *h.Avg || *h.Avg > *h.Max) {
			t.Errorf("bucket %+v inconsistent", h)
		}
	}
	if total != 240 || hours[0].Count != 0 {
		t.Errorf("counts %d (first %d), want 240 in the last hours only", total, hours[0].Count)
	}
	_, err = rb.readings.FindHourlyReadings(rb.ctx, rb.device.ID, 169)
	wantCode(t, err, thermo.EINVALID)
	_, err = rb.readings.FindHourlyReadings(rb.ctx, rb.device.ID+1, 24)
	wantCode(t, err, thermo.ENOTFOUND)
}

func TestExportReadings(t *testing.T) {
	t.Parallel()
	rb := setupReadings(t)
	newest := time.Now().Truncate(time.Second).UTC()
	rb.generate(t, rb.device.ID, 5000, newest, time.Second)
	var n int
	var last time.Time
	err := rb.readings.ExportReadings(rb.ctx, rb.device.ID, thermo.ReadingFilter{}, func(r *thermo.Reading) error {
		if !r.RecordedAt.After(last) {
			t.Fatalf("export not ascending at %d", n)
		}
		last = r.RecordedAt
		n++
		return nil
	})
	if err != nil || n != 5000 || !last.Equal(newest) {
		t.Fatalf("exported %d up to %v, %v; want 5000 up to %v", n, last, err, newest)
	}
	stop := errors.New("client gone")
	n = 0
	err = rb.readings.ExportReadings(rb.ctx, rb.device.ID, thermo.ReadingFilter{From: newest.Add(-99 * time.Second)}, func(*thermo.Reading) error {
		n++
		if n == 50 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 50 {
		t.Fatalf("export = %v after %d, want the callback's error after 50", err, n)
	}
	err = rb.readings.ExportReadings(rb.ctx, rb.device.ID+1, thermo.ReadingFilter{}, func(*thermo.Reading) error {
		t.Fatal("callback for an unknown device")
		return nil
	})
	wantCode(t, err, thermo.ENOTFOUND)
}

func TestPurgeReadings(t *testing.T) {
	t.Parallel()
	rb := setupReadings(t)
	other := createDevice(t, rb.ctx, rb.devices, &thermo.Device{SerialNumber: "SN-2"})
	now := time.Now()
	rb.generate(t, rb.device.ID, 100, now, time.Hour)
	rb.generate(t, other.ID, 100, now, time.Hour)
	cutoff := now.Add(-50*time.Hour + time.Minute)
	var total int64
	for {
		n, err := rb.readings.PurgeReadings(rb.ctx, cutoff, 30)
		if err != nil || n > 30 {
			t.Fatalf("purge = %d, %v; want at most 30", n, err)
		}
		if n == 0 {
			break
		}
		total += n
	}
	if total != 100 || rb.count(t) != 100 {
		t.Fatalf("purged %d, %d left; want 100 and 100", total, rb.count(t))
	}
}

func TestExplain(t *testing.T) {
	t.Parallel()
	rb := setupReadings(t)
	b := rb.bundle
	rb.generate(t, rb.device.ID, 1000, time.Now(), time.Minute)
	plans, err := b.db.Explain(context.Background(), rb.tenant, rb.device.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(plans) != 7 {
		t.Fatalf("%d plans, want 7", len(plans))
	}
	for _, p := range plans {
		if !strings.Contains(p.Plan, "Execution Time") || !strings.Contains(p.Plan, "Buffers") {
			t.Errorf("%s: plan lacks ANALYZE/BUFFERS output:\n%s", p.Name, p.Plan)
		}
	}
	_, err = b.db.Explain(context.Background(), rb.tenant, rb.device.ID+1)
	wantCode(t, err, thermo.ENOTFOUND)
	_, err = b.db.Explain(context.Background(), "Bad;Tenant", 1)
	wantCode(t, err, thermo.EINVALID)
}

// The readings a batch hands to AfterIngest are the stored rows, field for
// field: the first of two readings posted for one instant is the one kept.
func TestIngestReadings_HooksSeeStoredRows(t *testing.T) {
	t.Parallel()
	rb := setupReadings(t)
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	var seen []*thermo.Reading
	rb.readings.AfterIngest = []postgres.IngestHook{func(_ context.Context, _ int64, inserted []*thermo.Reading) error {
		seen = inserted
		return nil
	}}
	hum := 55.5
	batch := []thermo.Reading{
		{TemperatureCelsius: 20, Humidity: &hum, RecordedAt: base.Add(123456 * time.Nanosecond)},
		{TemperatureCelsius: 21, RecordedAt: base.Add(time.Second)},
		{TemperatureCelsius: 99, RecordedAt: base.Add(123456 * time.Nanosecond)}, // loses to the first
	}
	if _, err := rb.readings.IngestReadings(rb.ctx, rb.device.ID, batch); err != nil {
		t.Fatal(err)
	}
	stored, _, err := rb.readings.FindReadings(rb.ctx, rb.device.ID, thermo.ReadingFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2 || len(stored) != 2 {
		t.Fatalf("hook saw %d readings, %d stored; want 2 and 2", len(seen), len(stored))
	}
	byID := map[int64]*thermo.Reading{}
	for _, r := range stored {
		byID[r.ID] = r
	}
	for _, r := range seen {
		s := byID[r.ID]
		if s == nil || !reflect.DeepEqual(*r, *s) {
			t.Fatalf("hook saw %+v, stored %+v", r, s)
		}
	}
	if seen[0].TemperatureCelsius != 20 || *seen[0].Humidity != hum {
		t.Fatalf("first reading of the instant not kept: %+v", seen[0])
	}
}
