package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// aggDay is the tenant-local (UTC) day the aggregation benchmark fills.
func aggDay() time.Time { return time.Date(2026, 3, 8, 0, 0, 0, 0, time.UTC) }

// generateDay registers devices and posts each one's day of 2,880 readings
// (one every 30 s on aggDay) through the batch API, one request per
// device, four at a time, as gateways uploading a day would: the running
// daily totals are kept by the statement that stores the readings, exactly
// as in production. Values depend on (seed, device, n) only. It returns
// the ingest rate.
func generateDay(ctx context.Context, c *client, devices int, seed uint64, progress io.Writer) (float64, error) {
	ids, err := c.createDevices(ctx, "A", devices)
	if err != nil {
		return 0, fmt.Errorf("generate day: %w", err)
	}
	var next, done atomic.Int64
	errc := make(chan error, 4)
	var wg sync.WaitGroup
	start := time.Now()
	for range 4 {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(len(ids)); i = next.Add(1) - 1 {
				body, _ := json.Marshal(map[string]any{"readings": dayReadings(seed, i)})
				var res struct{ Inserted int }
				_, err := c.do(ctx, http.MethodPost, fmt.Sprintf("/v1/devices/%d/readings/batch", ids[i]), body, &res)
				if err == nil && res.Inserted != 2880 {
					err = fmt.Errorf("device %d: stored %d of 2880 readings", ids[i], res.Inserted)
				}
				if err != nil {
					errc <- fmt.Errorf("generate day: %w", err)
					return
				}
				if n := done.Add(1); n%int64(max(1, len(ids)/10)) == 0 {
					fmt.Fprintf(progress, "  posted %d/%d device-days (%.0f readings/s)\n", n, len(ids), float64(n*2880)/time.Since(start).Seconds())
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return 0, err
	}
	return float64(len(ids)*2880) / time.Since(start).Seconds(), nil
}

// dayReadings is device i's day: a daily curve plus deterministic noise.
func dayReadings(seed uint64, i int64) []reading {
	rng := rand.New(rand.NewPCG(seed, uint64(i)))
	out := make([]reading, 2880)
	for n := range out {
		out[n] = reading{
			TemperatureCelsius: 20 + 3*math.Sin(2*math.Pi*float64(n)/2880) + rng.Float64()*4,
			Humidity:           40 + rng.Float64()*10,
			BatteryLevel:       0.9,
			RecordedAt:         aggDay().Add(time.Duration(n) * 30 * time.Second),
		}
	}
	return out
}

// aggResult is one run of `thermo aggregate`: wall time and peak RSS.
type aggResult struct {
	wall  time.Duration
	rssMB float64
}

// runOurs clears the day's stats and runs `thermo aggregate` for it as a
// child process (process start and connection included in the time), with
// extra arguments (--rescan).
func runOurs(ctx context.Context, o opts, pool *pgxpool.Pool, tenant string, extra ...string) (aggResult, error) {
	if _, err := pool.Exec(ctx, fmt.Sprintf(`DELETE FROM %s.daily_stats`, pgx.Identifier{schema(tenant)}.Sanitize())); err != nil {
		return aggResult{}, err
	}
	args := append([]string{"aggregate", "--tenant", tenant, "--from", aggDay().Format(time.DateOnly)}, extra...)
	cmd := exec.CommandContext(ctx, o.bin, args...)
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
	c, err := newTenant(ctx, srv, tenant, 4)
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintf(w, "Kept tenant %s (EXPLAIN the aggregation there).\n\n", tenant)
	} else {
		defer dropTenant(pool, tenant)
	}
	start := time.Now()
	rate, err := generateDay(ctx, c, o.aDevices, o.seed, os.Stderr)
	if err != nil {
		return err
	}
	readings := int64(o.aDevices) * 2880
	fmt.Fprintf(w, "## 4. Nightly aggregation of one tenant-day: %d devices × 2880 = %d readings\n\n", o.aDevices, readings)
	fmt.Fprintf(w, "Data posted through the batch API, one 2,880-reading request per device, 4 at a time: %.0f readings/s, %s in all (running totals kept by the ingest statement).\n\n",
		rate, time.Since(start).Round(time.Second))
	fmt.Fprintf(w, "Ours: `thermo aggregate --tenant <t> --from %s` as a child process (start-up included), from the running totals. Rescan: the same with `--rescan` (rebuilds the totals by scanning the day's readings: the method before the totals). Tutorial: 4 queries per device, sequential, on one connection, nothing written. The order rotates per run.\n\n", aggDay().Format(time.DateOnly))
	fmt.Fprintf(w, "| run | ours s | ours peak RSS MiB | rescan s | tutorial s | ratio tutorial / ours | ratio tutorial / rescan |\n|---|---|---|---|---|---|---|\n")
	var oursS, rescanS, tutS, ratios, rratios, rss []float64
	for r := 1; r <= o.runs; r++ {
		var ours, rescan aggResult
		var tut time.Duration
		steps := []func() error{
			func() (err error) { ours, err = runOurs(ctx, o, pool, tenant); return err },
			func() (err error) { rescan, err = runOurs(ctx, o, pool, tenant, "--rescan"); return err },
			func() error {
				d, n, err := runTutorial(ctx, pool, tenant)
				if err == nil && n != readings {
					err = fmt.Errorf("tutorial counted %d readings, want %d", n, readings)
				}
				tut = d
				return err
			},
		}
		steps = slices.Concat(steps[r%3:], steps[:r%3]) // each method goes first once in 3 runs
		for _, step := range steps {
			if err := step(); err != nil {
				return err
			}
		}
		ratio, rratio := tut.Seconds()/ours.wall.Seconds(), tut.Seconds()/rescan.wall.Seconds()
		fmt.Fprintf(w, "| %d | %.3f | %.1f | %.3f | %.3f | %.1f | %.1f |\n", r, ours.wall.Seconds(), ours.rssMB,
			rescan.wall.Seconds(), tut.Seconds(), ratio, rratio)
		oursS, rescanS, tutS = append(oursS, ours.wall.Seconds()), append(rescanS, rescan.wall.Seconds()), append(tutS, tut.Seconds())
		ratios, rratios, rss = append(ratios, ratio), append(rratios, rratio), append(rss, ours.rssMB)
	}
	fmt.Fprintf(w, "| **median** | **%.3f** | **%.1f** | **%.3f** | **%.3f** | **%.1f** | **%.1f** |\n\n",
		median(oursS), median(rss), median(rescanS), median(tutS), median(ratios), median(rratios))
	return nil
}
