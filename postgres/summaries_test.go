package postgres_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/thermo/thermo"
	"github.com/thermo/thermo/postgres"
)

// dayStats reads every device's statistics of day, by device id.
func (sb *statsBundle) dayStats(t *testing.T, day string) map[int64]thermo.DailyStats {
	t.Helper()
	out := map[int64]thermo.DailyStats{}
	for _, d := range sb.devices {
		if s := sb.day(t, d.ID, day); s != nil {
			out[d.ID] = *s
		}
	}
	return out
}

// sameStats compares statistics computed from running totals with those
// of a scan: counts, min and max exactly, the average to rounding.
func sameStats(t *testing.T, what string, got, want map[int64]thermo.DailyStats) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d devices, want %d", what, len(got), len(want))
	}
	for id, w := range want {
		g := got[id]
		if g.Count != w.Count || g.Min != w.Min || g.Max != w.Max || math.Abs(g.Avg-w.Avg) > 1e-9 {
			t.Errorf("%s, device %d: %+v, want %+v", what, id, g, w)
		}
	}
}

// The running totals that both ingest paths keep give the statistics a
// scan of the readings gives: batches with repeats and duplicates, and
// concurrent single readings (group commit), across a local midnight.
func TestTotalsMatchScan(t *testing.T) {
	t.Parallel()
	sb := setupStats(t, "America/New_York")
	rng := rand.New(rand.NewPCG(7, 7))
	// 2026-03-08 is the 23 h DST day in New York: 05:00Z to 04:00Z next day.
	start := time.Date(2026, 3, 8, 3, 0, 0, 0, time.UTC)
	a, b := sb.devices[0].ID, sb.devices[1].ID
	var batch []thermo.Reading
	for i := range 600 {
		batch = append(batch, thermo.Reading{RecordedAt: start.Add(time.Duration(i) * 3 * time.Minute),
			TemperatureCelsius: 15 + rng.Float64()*10})
	}
	batch = append(batch, batch[10], batch[20]) // repeats within the batch
	if _, err := sb.readings.IngestReadings(sb.ctx, a, batch); err != nil {
		t.Fatal(err)
	}
	if _, err := sb.readings.IngestReadings(sb.ctx, a, batch[:100]); err != nil { // all duplicates
		t.Fatal(err)
	}
	var devices []int64
	var singles []thermo.Reading
	for i := range 300 {
		r := thermo.Reading{RecordedAt: start.Add(time.Duration(i) * 7 * time.Minute), TemperatureCelsius: -5 + rng.Float64()*40}
		devices, singles = append(devices, b), append(singles, r)
		if i%10 == 0 { // a device retrying: the same reading posted twice at once
			devices, singles = append(devices, b), append(singles, r)
		}
	}
	for _, res := range ingestConcurrently(sb.readings, sb.ctx, devices, singles) {
		if res.err != nil {
			t.Fatal(res.err)
		}
	}
	for _, day := range []string{"2026-03-07", "2026-03-08", "2026-03-09"} {
		if _, err := sb.stats.AggregateDay(sb.ctx, mustDate(t, day)); err != nil {
			t.Fatal(err)
		}
		fromTotals := sb.dayStats(t, day)
		if _, err := sb.stats.RescanDay(sb.ctx, mustDate(t, day)); err != nil {
			t.Fatal(err)
		}
		sameStats(t, day, fromTotals, sb.dayStats(t, day))
	}
	if got := sb.day(t, a, "2026-03-08"); got == nil || got.Count != 23*20 {
		t.Fatalf("device a on the 23 h day: %+v, want 460 readings", got)
	}
}

// A failed ingestion adds nothing to the totals: they commit or roll back
// with the readings.
func TestTotalsRollBackWithReadings(t *testing.T) {
	t.Parallel()
	sb := setupStats(t, "UTC")
	boom := errors.New("boom")
	sb.readings.AfterIngest = append(sb.readings.AfterIngest, func(context.Context, int64, []*thermo.Reading) error { return boom })
	a := sb.devices[0].ID
	at := time.Date(2026, 1, 3, 12, 0, 0, 0, time.UTC)
	if _, err := sb.readings.IngestReadings(sb.ctx, a, []thermo.Reading{{RecordedAt: at, TemperatureCelsius: 1}}); !errors.Is(err, boom) {
		t.Fatalf("batch: %v, want boom", err)
	}
	r := thermo.Reading{RecordedAt: at.Add(time.Minute), TemperatureCelsius: 2}
	if _, err := sb.readings.IngestReading(sb.ctx, a, &r); !errors.Is(err, boom) {
		t.Fatalf("single: %v, want boom", err)
	}
	res, err := sb.stats.AggregateDay(sb.ctx, mustDate(t, "2026-01-03"))
	if err != nil || res.Devices != 0 {
		t.Fatalf("aggregate after failed ingests = %+v, %v; want no device", res, err)
	}
}

// Readings are summarized however they are stored (the trigger fires for
// any INSERT). RescanDay rebuilds totals that drifted from the readings
// (here: edited by hand), drops totals that no reading backs, and rebuilds
// the latest readings.
func TestRescanDayRepairsTotals(t *testing.T) {
	t.Parallel()
	sb := setupStats(t, "UTC")
	a, b := sb.devices[0].ID, sb.devices[1].ID
	tenant := thermo.TenantFromContext(sb.ctx)
	sb.insert(t, b, []string{"2026-01-04T10:00:00Z"}, []float64{7})
	exec(t, sb.db, tenant, `INSERT INTO readings (device_id, recorded_at, temperature_celsius)
		VALUES ($1, '2026-01-04T01:00:00Z', 10), ($1, '2026-01-04T02:00:00Z', 20)`, a)
	day := mustDate(t, "2026-01-04")
	if _, err := sb.stats.AggregateDay(sb.ctx, day); err != nil {
		t.Fatal(err)
	}
	if got := sb.day(t, a, "2026-01-04"); got == nil || got.Count != 2 || got.Avg != 15 {
		t.Fatalf("plain SQL insert: %+v, want 2 readings averaging 15", got)
	}
	exec(t, sb.db, tenant, `UPDATE daily_totals SET reading_count = 99 WHERE device_id = $1`, a)
	exec(t, sb.db, tenant, `DELETE FROM latest_readings WHERE device_id = $1`, a)
	exec(t, sb.db, tenant, `DELETE FROM readings WHERE device_id = $1`, b)
	res, err := sb.stats.RescanDay(sb.ctx, day)
	if err != nil {
		t.Fatal(err)
	}
	if got := sb.day(t, a, "2026-01-04"); res.Devices != 2 || got == nil || got.Count != 2 || got.Avg != 15 {
		t.Fatalf("after rescan: %+v, device a %+v", res, got)
	}
	if latest := sb.latestOf(t); latest[a] == nil || latest[a].TemperatureCelsius != 20 || latest[b] != nil {
		t.Fatalf("latest after rescan: a %+v, b %+v; want a's 02:00 reading, none for b", latest[a], latest[b])
	}
	var n int
	err = sb.db.ReadTx(sb.ctx, func(ctx context.Context) error {
		tx, _ := postgres.TxFromContext(ctx)
		return tx.QueryRow(ctx, `SELECT count(*) FROM daily_totals WHERE device_id = $1`, b).Scan(&n)
	})
	if err != nil || n != 0 {
		t.Fatalf("device b keeps %d totals rows (%v), want 0: its readings are gone", n, err)
	}
}

// Migration 6 fills the totals from the readings already stored.
func TestTotalsMigrationBackfills(t *testing.T) {
	t.Parallel()
	sb := setupStats(t, "Asia/Kolkata")
	a := sb.devices[0].ID
	// 20:00Z is 01:30 the next day in Kolkata.
	sb.insert(t, a, []string{"2026-01-05T10:00:00Z", "2026-01-05T12:00:00Z", "2026-01-05T20:00:00Z"}, []float64{10, 30, 99})
	tenant := thermo.TenantFromContext(sb.ctx)
	exec(t, sb.db, tenant, `DELETE FROM daily_totals`)
	if err := postgres.Remigrate(context.Background(), sb.db, tenant, 6); err != nil {
		t.Fatalf("remigrate: %v", err)
	}
	for _, day := range []string{"2026-01-05", "2026-01-06"} {
		if _, err := sb.stats.AggregateDay(sb.ctx, mustDate(t, day)); err != nil {
			t.Fatal(err)
		}
	}
	if got := sb.day(t, a, "2026-01-05"); got == nil || got.Count != 2 || got.Avg != 20 || got.Max != 30 {
		t.Fatalf("2026-01-05 after backfill: %+v", got)
	}
	if got := sb.day(t, a, "2026-01-06"); got == nil || got.Count != 1 || got.Max != 99 {
		t.Fatalf("2026-01-06 after backfill: %+v", got)
	}
}

// latestOf returns what the dashboard shows for each device.
func (sb *statsBundle) latestOf(t *testing.T) map[int64]*thermo.Reading {
	t.Helper()
	all, err := sb.readings.FindLatestReadings(sb.ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64]*thermo.Reading{}
	for _, dr := range all {
		out[dr.Device.ID] = dr.Reading
	}
	return out
}

// The dashboard's latest reading of every device is the newest stored
// reading: late uploads of older readings, duplicates and failed ingests do
// not move it, and it agrees with the per-device query throughout.
func TestLatestReadingsFollowIngest(t *testing.T) {
	t.Parallel()
	sb := setupStats(t, "UTC")
	a, b := sb.devices[0].ID, sb.devices[1].ID
	now := time.Now().UTC().Truncate(time.Second)
	at := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
	check := func(step string, want map[int64]float64) {
		t.Helper()
		got := sb.latestOf(t)
		for id, temp := range want {
			r, err := sb.readings.FindLatestReading(sb.ctx, id)
			if err != nil || got[id] == nil || got[id].TemperatureCelsius != temp || !reflect.DeepEqual(*got[id], *r) {
				t.Fatalf("%s: device %d: dashboard %+v, latest %+v (%v); want temperature %v", step, id, got[id], r, err, temp)
			}
		}
	}
	sb.insert(t, a, []string{at(-3 * time.Minute), at(-time.Minute), at(-2 * time.Minute)}, []float64{1, 3, 2})
	if got := sb.latestOf(t); got[b] != nil {
		t.Fatalf("device without readings shows %+v", got[b])
	}
	check("batch", map[int64]float64{a: 3})
	sb.insert(t, a, []string{at(-time.Hour)}, []float64{-40}) // a late upload
	sb.insert(t, a, []string{at(-time.Minute)}, []float64{3}) // a duplicate
	check("late upload", map[int64]float64{a: 3})
	var devices []int64
	var singles []thermo.Reading
	for i := range 40 {
		devices = append(devices, []int64{a, b}[i%2])
		singles = append(singles, thermo.Reading{RecordedAt: now.Add(time.Duration(i) * time.Second), TemperatureCelsius: float64(i)})
	}
	for _, res := range ingestConcurrently(sb.readings, sb.ctx, devices, singles) {
		if res.err != nil {
			t.Fatal(res.err)
		}
	}
	check("group commit", map[int64]float64{a: 38, b: 39})
	boom := errors.New("boom")
	sb.readings.AfterIngest = append(sb.readings.AfterIngest, func(context.Context, int64, []*thermo.Reading) error { return boom })
	if _, err := sb.readings.IngestReadings(sb.ctx, a, []thermo.Reading{{RecordedAt: now.Add(time.Minute), TemperatureCelsius: 99}}); !errors.Is(err, boom) {
		t.Fatalf("failing ingest: %v", err)
	}
	check("rolled back", map[int64]float64{a: 38, b: 39})
}

// Retention that purges a device's newest reading removes it from the
// dashboard too.
func TestLatestReadingsPurged(t *testing.T) {
	t.Parallel()
	sb := setupStats(t, "UTC")
	a, b := sb.devices[0].ID, sb.devices[1].ID
	sb.insert(t, a, []string{"2026-01-01T10:00:00Z"}, []float64{1})
	sb.insert(t, b, []string{"2026-01-01T10:00:00Z", "2026-03-01T10:00:00Z"}, []float64{1, 2})
	if _, err := sb.readings.PurgeReadings(sb.ctx, mustDate(t, "2026-02-01"), 1000); err != nil {
		t.Fatal(err)
	}
	got := sb.latestOf(t)
	if got[a] != nil || got[b] == nil || got[b].TemperatureCelsius != 2 {
		t.Fatalf("after purge: a %+v, b %+v; want none for a, the March reading for b", got[a], got[b])
	}
}

// The summary trigger writes only its own tenant's tables, whatever the
// search_path of the session that inserts.
func TestSummariesStayInTheirSchema(t *testing.T) {
	t.Parallel()
	sa, sb := setupStats(t, "UTC"), setupStats(t, "UTC")
	schemaA := postgres.SchemaName(thermo.TenantFromContext(sa.ctx))
	// Tenant B's transaction (search_path = B) inserts into A's table.
	exec(t, sb.db, thermo.TenantFromContext(sb.ctx), `INSERT INTO `+pgxIdent(schemaA)+`.readings
		(device_id, recorded_at, temperature_celsius) VALUES ($1, '2026-01-02T10:00:00Z', 5)`, sa.devices[0].ID)
	if got := sa.latestOf(t)[sa.devices[0].ID]; got == nil || got.TemperatureCelsius != 5 {
		t.Fatalf("tenant A's dashboard: %+v, want the reading", got)
	}
	if got := sb.latestOf(t)[sb.devices[0].ID]; got != nil {
		t.Fatalf("tenant B's dashboard shows %+v: A's reading leaked into B's summaries", got)
	}
	if _, err := sa.stats.AggregateDay(sa.ctx, mustDate(t, "2026-01-02")); err != nil {
		t.Fatal(err)
	}
	if res, err := sb.stats.AggregateDay(sb.ctx, mustDate(t, "2026-01-02")); err != nil || res.Devices != 0 {
		t.Fatalf("tenant B's totals: %+v, %v; want none", res, err)
	}
	if got := sa.day(t, sa.devices[0].ID, "2026-01-02"); got == nil || got.Count != 1 {
		t.Fatalf("tenant A's stats: %+v", got)
	}
}

func pgxIdent(s string) string { return pgx.Identifier{s}.Sanitize() }
