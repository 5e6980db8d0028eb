package postgres_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/thermo/thermo"
	"github.com/thermo/thermo/postgres"
)

// statsBundle is a tenant in a given time zone with two devices.
type statsBundle struct {
	*bundle
	ctx      context.Context
	stats    *postgres.StatsService
	readings *postgres.ReadingService
	devices  [2]*thermo.Device
}

func setupStats(t *testing.T, zone string) *statsBundle {
	t.Helper()
	b := setup(t)
	id := uniqueID("s")
	if err := b.tenants.CreateTenant(context.Background(), &thermo.Tenant{ID: id, TimeZone: zone}); err != nil {
		t.Fatalf("create tenant: %v", err)
	}
	t.Cleanup(func() { dropTenant(t, testDatabaseURL(t), id) })
	sb := &statsBundle{bundle: b, ctx: thermo.WithTenant(context.Background(), id),
		stats: postgres.NewStatsService(b.db), readings: postgres.NewReadingService(b.db)}
	sb.readings.AfterIngest = append(sb.readings.AfterIngest, sb.stats.MarkLateReadings)
	devices := postgres.NewDeviceService(b.db)
	for i, sn := range []string{"SN-A", "SN-B"} {
		sb.devices[i] = createDevice(t, sb.ctx, devices, &thermo.Device{SerialNumber: sn})
	}
	return sb
}

// insert stores readings of device at the given instants with temperatures.
func (sb *statsBundle) insert(t *testing.T, deviceID int64, at []string, temps []float64) {
	t.Helper()
	rs := make([]thermo.Reading, len(at))
	for i := range at {
		ts, err := time.Parse(time.RFC3339, at[i])
		if err != nil {
			t.Fatal(err)
		}
		rs[i] = thermo.Reading{RecordedAt: ts, TemperatureCelsius: temps[i]}
	}
	if _, err := sb.readings.IngestReadings(sb.ctx, deviceID, rs); err != nil {
		t.Fatalf("ingest: %v", err)
	}
}

func (sb *statsBundle) day(t *testing.T, deviceID int64, date string) *thermo.DailyStats {
	t.Helper()
	d := mustDate(t, date)
	got, err := sb.stats.FindDailyStats(sb.ctx, deviceID, d, d)
	if err != nil {
		t.Fatalf("find daily stats: %v", err)
	}
	if len(got) == 0 {
		return nil
	}
	return got[0]
}

func mustDate(t testing.TB, s string) time.Time {
	t.Helper()
	d, err := thermo.ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// Local days follow the tenant's zone across both DST changes: readings on
// either side of each local midnight land on the right day, and the 23 h and
// 25 h days hold exactly their readings.
func TestAggregateDayDST(t *testing.T) {
	t.Parallel()
	sb := setupStats(t, "America/New_York")
	dev := sb.devices[0].ID
	sb.insert(t, dev, []string{
		"2026-03-08T04:59:59Z", // 2026-03-07 23:59:59 EST: previous day
		"2026-03-08T05:00:00Z", // 2026-03-08 00:00 EST: first instant
		"2026-03-09T03:59:59Z", // 2026-03-08 23:59:59 EDT: last second (23 h day)
		"2026-03-09T04:00:00Z", // 2026-03-09 00:00 EDT: next day
		"2026-11-01T03:59:59Z", // 2026-10-31 23:59:59 EDT: previous day
		"2026-11-01T04:00:00Z", // 2026-11-01 00:00 EDT: first instant
		"2026-11-01T05:30:00Z", // 01:30 EDT, the first 01:30
		"2026-11-01T06:30:00Z", // 01:30 EST, the repeated hour
		"2026-11-02T04:59:59Z", // 2026-11-01 23:59:59 EST: last second (25 h day)
		"2026-11-02T05:00:00Z", // 2026-11-02 00:00 EST: next day
	}, []float64{100, 1, 3, 100, 100, 10, 20, 30, 40, 100})
	for _, day := range []string{"2026-03-08", "2026-11-01"} {
		if _, err := sb.stats.AggregateDay(sb.ctx, mustDate(t, day)); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		day           string
		count         int
		avg, min, max float64
	}{{"2026-03-08", 2, 2, 1, 3}, {"2026-11-01", 4, 25, 10, 40}} {
		got := sb.day(t, dev, c.day)
		if got == nil || got.Count != c.count || got.Avg != c.avg || got.Min != c.min || got.Max != c.max {
			t.Errorf("%s: got %+v, want count %d avg %v min %v max %v", c.day, got, c.count, c.avg, c.min, c.max)
		}
	}
	if got := sb.day(t, sb.devices[1].ID, "2026-03-08"); got != nil {
		t.Errorf("device without readings got stats %+v", got)
	}
}

// Re-running a day changes nothing, not even updatedAt.
func TestAggregateDayIdempotent(t *testing.T) {
	t.Parallel()
	sb := setupStats(t, "UTC")
	a, b := sb.devices[0].ID, sb.devices[1].ID
	sb.insert(t, a, []string{"2026-01-10T00:00:00Z", "2026-01-10T12:00:00Z"}, []float64{10, 20})
	sb.insert(t, b, []string{"2026-01-10T23:59:59Z"}, []float64{-5})
	day := mustDate(t, "2026-01-10")
	first, err := sb.stats.AggregateDay(sb.ctx, day)
	if err != nil {
		t.Fatal(err)
	}
	if first.Devices != 2 || len(first.Changed) != 2 {
		t.Fatalf("first run: %+v", first)
	}
	before := sb.day(t, a, "2026-01-10")
	second, err := sb.stats.AggregateDay(sb.ctx, day)
	if err != nil {
		t.Fatal(err)
	}
	if second.Devices != 2 || len(second.Changed) != 0 {
		t.Fatalf("second run changed %+v", second)
	}
	if after := sb.day(t, a, "2026-01-10"); *after != *before {
		t.Fatalf("re-run changed the row: %+v -> %+v", before, after)
	}
	if before.Count != 2 || before.Avg != 15 {
		t.Fatalf("stats %+v", before)
	}
}

// A reading uploaded after its day was aggregated marks that device-day;
// the late pass re-aggregates it and only it, and stats converge.
func TestLateReadingConverges(t *testing.T) {
	t.Parallel()
	sb := setupStats(t, "Europe/Berlin")
	a, b := sb.devices[0].ID, sb.devices[1].ID
	sb.insert(t, a, []string{"2026-02-01T10:00:00Z"}, []float64{10})
	sb.insert(t, b, []string{"2026-02-01T10:00:00Z"}, []float64{50})
	day := mustDate(t, "2026-02-01")
	if _, err := sb.stats.AggregateDay(sb.ctx, day); err != nil {
		t.Fatal(err)
	}
	if days, err := sb.stats.DirtyDays(sb.ctx); err != nil || len(days) != 0 {
		t.Fatalf("dirty days after the nightly run = %v, %v", days, err)
	}
	// 23:30 UTC on Feb 1 is 00:30 on Feb 2 in Berlin: a different day.
	sb.insert(t, a, []string{"2026-02-01T11:00:00Z", "2026-02-01T23:30:00Z"}, []float64{20, 99})
	days, err := sb.stats.DirtyDays(sb.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(days) != 2 || !days[0].Equal(day) || !days[1].Equal(mustDate(t, "2026-02-02")) {
		t.Fatalf("dirty days = %v", days)
	}
	res, err := sb.stats.AggregateDirty(sb.ctx, day)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Changed) != 1 || res.Changed[0] != a {
		t.Fatalf("late pass changed %v, want [%d]", res.Changed, a)
	}
	if got := sb.day(t, a, "2026-02-01"); got.Count != 2 || got.Avg != 15 || got.Max != 20 {
		t.Fatalf("after late pass: %+v", got)
	}
	if res, err := sb.stats.AggregateDirty(sb.ctx, day); err != nil || len(res.Changed) != 0 {
		t.Fatalf("second late pass: %+v, %v", res, err)
	}
	// Today's readings mark nothing.
	sb.insert(t, b, []string{time.Now().UTC().Format(time.RFC3339)}, []float64{1})
	if days, _ := sb.stats.DirtyDays(sb.ctx); len(days) != 1 {
		t.Fatalf("dirty days = %v, want only 2026-02-02", days)
	}
}

func TestFindStats(t *testing.T) {
	t.Parallel()
	sb := setupStats(t, "Asia/Tokyo")
	dev := sb.devices[0].ID
	now := time.Now()
	sb.stats.Now = func() time.Time { return now }
	loc, _ := time.LoadLocation("Asia/Tokyo")
	today := thermo.LocalDate(now, loc)
	var at []string
	var temps []float64
	for i := 1; i <= 8; i++ { // yesterday .. 8 days ago, local noon
		d := today.AddDate(0, 0, -i)
		at = append(at, time.Date(d.Year(), d.Month(), d.Day(), 12, 0, 0, 0, loc).Format(time.RFC3339))
		temps = append(temps, float64(i))
	}
	sb.insert(t, dev, at, temps)
	for i := 1; i <= 8; i++ {
		if _, err := sb.stats.AggregateDay(sb.ctx, today.AddDate(0, 0, -i)); err != nil {
			t.Fatal(err)
		}
	}
	w, err := sb.stats.FindWeeklyStats(sb.ctx, dev)
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Days) != 7 || w.Count != 7 || *w.Min != 1 || *w.Max != 7 || *w.Avg != 4 ||
		w.To != today.AddDate(0, 0, -1).Format(thermo.DateLayout) {
		t.Fatalf("weekly = %+v", w)
	}
	if _, err := sb.stats.FindWeeklyStats(sb.ctx, 999999); thermo.ErrorCode(err) != thermo.ENOTFOUND {
		t.Fatalf("unknown device: %v", err)
	}
	if _, err := sb.stats.FindDailyStats(sb.ctx, dev, today, today.AddDate(0, 0, -1)); thermo.ErrorCode(err) != thermo.EINVALID {
		t.Fatalf("reversed range: %v", err)
	}
}

// Concurrent runs of one tenant-day (two workers, a worker and thermo
// aggregate) serialize on the advisory lock: all succeed, one writes.
func TestAggregateDayConcurrent(t *testing.T) {
	t.Parallel()
	sb := setupStats(t, "UTC")
	sb.insert(t, sb.devices[0].ID, []string{"2026-01-05T01:00:00Z", "2026-01-05T02:00:00Z"}, []float64{1, 2})
	sb.insert(t, sb.devices[1].ID, []string{"2026-01-05T03:00:00Z"}, []float64{3})
	day := mustDate(t, "2026-01-05")
	var wg sync.WaitGroup
	var changed atomic.Int64
	for range 8 {
		wg.Go(func() {
			res, err := sb.stats.AggregateDay(sb.ctx, day)
			if err != nil {
				t.Error(err)
				return
			}
			changed.Add(int64(len(res.Changed)))
		})
	}
	wg.Wait()
	if changed.Load() != 2 {
		t.Fatalf("%d device-days written across 8 concurrent runs, want 2 (each once)", changed.Load())
	}
}
