package postgres_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"

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

// Readings written outside the ingest path (or before the totals existed)
// are invisible to the plain pass; RescanDay rebuilds the totals from them
// and drops totals that no reading backs.
func TestRescanDayRepairsTotals(t *testing.T) {
	t.Parallel()
	sb := setupStats(t, "UTC")
	a, b := sb.devices[0].ID, sb.devices[1].ID
	sb.insert(t, b, []string{"2026-01-04T10:00:00Z"}, []float64{7})
	exec(t, sb.db, thermo.TenantFromContext(sb.ctx), `INSERT INTO readings (device_id, recorded_at, temperature_celsius)
		VALUES ($1, '2026-01-04T01:00:00Z', 10), ($1, '2026-01-04T02:00:00Z', 20)`, a)
	exec(t, sb.db, thermo.TenantFromContext(sb.ctx), `DELETE FROM readings WHERE device_id = $1`, b)
	day := mustDate(t, "2026-01-04")
	if _, err := sb.stats.AggregateDay(sb.ctx, day); err != nil {
		t.Fatal(err)
	}
	if sb.day(t, a, "2026-01-04") != nil || sb.day(t, b, "2026-01-04") == nil {
		t.Fatal("plain pass: want no stats for a (no totals), stale stats for b")
	}
	res, err := sb.stats.RescanDay(sb.ctx, day)
	if err != nil {
		t.Fatal(err)
	}
	if got := sb.day(t, a, "2026-01-04"); res.Devices != 2 || got == nil || got.Count != 2 || got.Avg != 15 {
		t.Fatalf("after rescan: %+v, device a %+v", res, got)
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
