package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/thermo/thermo"
	"github.com/thermo/thermo/postgres"
)

// BenchmarkAggregateDay2880k measures the nightly statement over one
// tenant-day of 1,000 devices × 2,880 readings (one every 30 s): 2.88M
// readings, plus a neighbouring day of the same size so the day's bounds
// matter. "finalize" is the nightly pass (from the running totals);
// "rescan" rebuilds the totals from the readings first (the repair path,
// and what the nightly pass cost before the totals). Each iteration
// recomputes every device (the stored rows are cleared first, so the
// upsert writes all 1,000). Setup takes ~1 min.
//
//	go test ./postgres -run '^$' -bench AggregateDay2880k -benchtime 3x
func BenchmarkAggregateDay2880k(b *testing.B) {
	ctx, db, _ := benchTenant(b)
	day := time.Date(2026, 3, 8, 0, 0, 0, 0, time.UTC)
	err := db.InTx(ctx, func(ctx context.Context) error {
		tx, _ := postgres.TxFromContext(ctx)
		if _, err := tx.Exec(ctx, `INSERT INTO devices (serial_number, name)
			SELECT 'B-' || g, 'bench ' || g FROM generate_series(2, 1000) g`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO readings (device_id, recorded_at, temperature_celsius)
			SELECT d.id, $1::timestamptz + s * interval '30 seconds', 15 + (s % 100) / 10.0
			FROM devices d, generate_series(-2880, 2879) s
			ORDER BY d.id, s`, day)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, "ANALYZE readings")
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	stats := postgres.NewStatsService(db)
	b.Run("finalize", func(b *testing.B) { benchAggregate(b, ctx, db, day, stats.AggregateDay) })
	b.Run("rescan", func(b *testing.B) { benchAggregate(b, ctx, db, day, stats.RescanDay) })
}

func benchAggregate(b *testing.B, ctx context.Context, db *postgres.DB, day time.Time,
	aggregate func(context.Context, time.Time) (*thermo.AggregateResult, error)) {
	for b.Loop() {
		b.StopTimer()
		err := db.InTx(ctx, func(ctx context.Context) error {
			tx, _ := postgres.TxFromContext(ctx)
			_, err := tx.Exec(ctx, "DELETE FROM daily_stats")
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		res, err := aggregate(ctx, day)
		if err != nil || res.Devices != 1000 || len(res.Changed) != 1000 {
			b.Fatalf("aggregate = %+v, %v", res, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/tenant-day")
	b.ReportMetric(2_880_000*float64(b.N)/b.Elapsed().Seconds(), "readings/s")
}
