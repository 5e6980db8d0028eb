package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// aggDay is the tenant-local (UTC) day the aggregation benchmark fills.
func aggDay() time.Time { return time.Date(2026, 3, 8, 0, 0, 0, 0, time.UTC) }

// generateDay fills the tenant with devices × 2,880 readings (one every
// 30 s) on aggDay, in SQL; values depend on (seed, device, n) only.
func generateDay(ctx context.Context, pool *pgxpool.Pool, schema string, devices int, seed uint64) error {
	s := pgx.Identifier{schema}.Sanitize()
	stmts := []string{
		fmt.Sprintf(`TRUNCATE %[1]s.readings; DELETE FROM %[1]s.daily_stats; DELETE FROM %[1]s.devices`, s),
		fmt.Sprintf(`INSERT INTO %s.devices (serial_number, name)
SELECT 'BENCH-A-' || i, 'Sensor ' || lpad(i::text, 6, '0') FROM generate_series(1, %d) i`, s, devices),
		fmt.Sprintf(`INSERT INTO %[1]s.readings (device_id, recorded_at, temperature_celsius)
SELECT d.id, $1::timestamptz + n * interval '30 seconds',
       20 + 3 * sin(2 * pi() * n / 2880.0) + (abs(hashint8(d.id * 1000003 + n + %[2]d)) %% 1000) / 250.0
FROM %[1]s.devices d, generate_series(0, 2879) n ORDER BY d.id, n`, s, seed),
		fmt.Sprintf(`VACUUM (ANALYZE) %s.readings`, s),
	}
	for i, q := range stmts {
		var err error
		if i == 2 {
			_, err = pool.Exec(ctx, q, aggDay())
		} else {
			_, err = pool.Exec(ctx, q)
		}
		if err != nil {
			return fmt.Errorf("generate day: %w", err)
		}
	}
	return nil
}

// aggResult is one run of `thermo aggregate`: wall time and peak RSS.
type aggResult struct {
	wall  time.Duration
	rssMB float64
}

// runOurs clears the day's stats and runs `thermo aggregate` for it as a
// child process (process start and connection included in the time).
func runOurs(ctx context.Context, o opts, pool *pgxpool.Pool, tenant string) (aggResult, error) {
	if _, err := pool.Exec(ctx, fmt.Sprintf(`DELETE FROM %s.daily_stats`, pgx.Identifier{schema(tenant)}.Sanitize())); err != nil {
		return aggResult{}, err
	}
	cmd := exec.CommandContext(ctx, o.bin, "aggregate", "--tenant", tenant, "--from", aggDay().Format(time.DateOnly))
	cmd.Env = append(os.Environ(), "DATABASE_URL="+o.dbURL, "LOG_LEVEL=warn")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	wall := time.Since(start)
	if err != nil {
		return aggResult{}, fmt.Errorf("thermo aggregate: %w: %s", err, out)
	}
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	res := aggResult{wall: wall}
	if ru != nil {
		res.rssMB = float64(ru.Maxrss) / 1024 // kB on Linux
	}
	return res, nil
}

// runTutorial is the tutorial's method: for each device, one after the
// other, four aggregate queries (avg, min, max, count) over the day. It
// writes nothing, which favours it.
func runTutorial(ctx context.Context, pool *pgxpool.Pool, tenant string) (time.Duration, int64, error) {
	s := pgx.Identifier{schema(tenant)}.Sanitize()
	start := time.Now()
	c, err := pool.Acquire(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer c.Release()
	rows, _ := c.Query(ctx, fmt.Sprintf(`SELECT id FROM %s.devices ORDER BY id`, s))
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return 0, 0, err
	}
	from, to := aggDay(), aggDay().AddDate(0, 0, 1)
	where := fmt.Sprintf(` FROM %s.readings WHERE device_id = $1 AND recorded_at >= $2 AND recorded_at < $3`, s)
	var total int64
	for _, id := range ids {
		var avg, lo, hi *float64
		var n int64
		for _, q := range []struct {
			sql  string
			dest any
		}{{"SELECT avg(temperature_celsius)", &avg}, {"SELECT min(temperature_celsius)", &lo},
			{"SELECT max(temperature_celsius)", &hi}, {"SELECT count(*)", &n}} {
			if err := c.QueryRow(ctx, q.sql+where, id, from, to).Scan(q.dest); err != nil {
				return 0, 0, fmt.Errorf("tutorial query: %w", err)
			}
		}
		total += n
	}
	return time.Since(start), total, nil
}

func benchAggregate(ctx context.Context, w io.Writer, o opts, srv *server, pool *pgxpool.Pool) error {
	tenant := tenantID("aggregate", o.seed)
	if _, err := newTenant(ctx, srv, tenant, 1); err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintf(w, "Kept tenant %s (EXPLAIN the aggregation there).\n\n", tenant)
	} else {
		defer dropTenant(pool, tenant)
	}
	start := time.Now()
	if err := generateDay(ctx, pool, schema(tenant), o.aDevices, o.seed); err != nil {
		return err
	}
	readings := int64(o.aDevices) * 2880
	fmt.Fprintf(w, "## 4. Nightly aggregation of one tenant-day: %d devices × 2880 = %d readings (generated in %s)\n\n",
		o.aDevices, readings, time.Since(start).Round(time.Second))
	fmt.Fprintf(w, "Ours: `thermo aggregate --tenant <t> --from %s` as a child process (start-up included). Tutorial: 4 queries per device, sequential, on one connection, nothing written. The order alternates per run.\n\n", aggDay().Format(time.DateOnly))
	fmt.Fprintf(w, "| run | ours s | ours peak RSS MiB | tutorial s | ratio (tutorial / ours) |\n|---|---|---|---|---|\n")
	var oursS, tutS, ratios, rss []float64
	for r := 1; r <= o.runs; r++ {
		var ours aggResult
		var tut time.Duration
		steps := []func() error{
			func() (err error) { ours, err = runOurs(ctx, o, pool, tenant); return err },
			func() error {
				d, n, err := runTutorial(ctx, pool, tenant)
				if err == nil && n != readings {
					err = fmt.Errorf("tutorial counted %d readings, want %d", n, readings)
				}
				tut = d
				return err
			},
		}
		if r%2 == 0 {
			steps[0], steps[1] = steps[1], steps[0]
		}
		for _, step := range steps {
			if err := step(); err != nil {
				return err
			}
		}
		ratio := tut.Seconds() / ours.wall.Seconds()
		fmt.Fprintf(w, "| %d | %.3f | %.1f | %.3f | %.1f |\n", r, ours.wall.Seconds(), ours.rssMB, tut.Seconds(), ratio)
		oursS, tutS, ratios, rss = append(oursS, ours.wall.Seconds()), append(tutS, tut.Seconds()), append(ratios, ratio), append(rss, ours.rssMB)
	}
	fmt.Fprintf(w, "| **median** | **%.3f** | **%.1f** | **%.3f** | **%.1f** |\n\n", median(oursS), median(rss), median(tutS), median(ratios))
	return nil
}
