package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// readingGen yields a device's readings, newest first, one millisecond
// apart below a fixed anchor: deterministic for a seed, never repeated.
type readingGen struct {
	rng    *rand.Rand
	anchor time.Time
	seq    int64
}

func newReadingGen(seed uint64, device int, anchor time.Time) *readingGen {
	return &readingGen{rng: rand.New(rand.NewPCG(seed, uint64(device))), anchor: anchor}
}

func (g *readingGen) next() reading {
	g.seq++
	return reading{
		TemperatureCelsius: 18 + g.rng.Float64()*8,
		Humidity:           30 + g.rng.Float64()*30,
		BatteryLevel:       0.5 + g.rng.Float64()/2,
		RecordedAt:         g.anchor.Add(-time.Duration(g.seq) * time.Millisecond),
	}
}

// ingestResult is one run of the single-reading benchmark.
type ingestResult struct {
	readings, errors int64
	elapsed          time.Duration
	p50, p99         time.Duration
	cpu              cpuCounters
}

func (r ingestResult) rate() float64 { return float64(r.readings) / r.elapsed.Seconds() }

// runIngest posts single readings from one goroutine per device for d:
// each device sends its next reading as soon as the previous is answered.
func runIngest(ctx context.Context, c *client, devices []int64, gens []*readingGen, d time.Duration, serverPID int) (ingestResult, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		mu       sync.Mutex
		lat      = make([]time.Duration, 0, 1<<16)
		ok, errs atomic.Int64
		firstErr atomic.Value
		wg       sync.WaitGroup
	)
	before, start := readCPU(serverPID), time.Now()
	for i, id := range devices {
		wg.Go(func() {
			path := fmt.Sprintf("/v1/devices/%d/readings", id)
			local := make([]time.Duration, 0, 1024)
			for ctx.Err() == nil {
				body, _ := json.Marshal(gens[i].next())
				took, err := c.do(ctx, http.MethodPost, path, body, nil)
				switch {
				case ctx.Err() != nil:
				case err != nil:
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err)
				default:
					ok.Add(1)
					local = append(local, took)
				}
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		})
	}
	wg.Wait()
	res := ingestResult{readings: ok.Load(), errors: errs.Load(), elapsed: time.Since(start), cpu: readCPU(serverPID).sub(before)}
	res.p50, res.p99 = percentile(lat, 0.50), percentile(lat, 0.99)
	if err, _ := firstErr.Load().(error); err != nil && res.errors > res.readings/100 {
		return res, fmt.Errorf("%d of %d requests failed, first: %w", res.errors, res.errors+res.readings, err)
	}
	return res, nil
}

// batchResult is one run of the batch benchmark and its COPY baseline.
type batchResult struct {
	httpRate, copyRate float64
	p50, p99           time.Duration
}

// batches returns per worker its batches of size readings, total rows in
// all, from the seed: the same rows go over HTTP and through COPY.
func batches(seed uint64, workers, total, size int, anchor time.Time) [][][]reading {
	out := make([][][]reading, workers)
	for w := range out {
		g := newReadingGen(seed, 1000+w, anchor)
		for n := 0; n < total/workers; n += size {
			b := make([]reading, size)
			for i := range b {
				b[i] = g.next()
			}
			out[w] = append(out[w], b)
		}
	}
	return out
}

// runBatchHTTP posts every worker's batches to its own device.
func runBatchHTTP(ctx context.Context, c *client, devices []int64, work [][][]reading) (float64, []time.Duration, error) {
	var (
		mu   sync.Mutex
		lat  []time.Duration
		rows atomic.Int64
		errc = make(chan error, len(work))
		wg   sync.WaitGroup
	)
	start := time.Now()
	for w := range work {
		wg.Go(func() {
			path := fmt.Sprintf("/v1/devices/%d/readings/batch", devices[w])
			for _, b := range work[w] {
				body, _ := json.Marshal(map[string]any{"readings": b})
				var res struct{ Inserted int }
				took, err := c.do(ctx, http.MethodPost, path, body, &res)
				if err == nil && res.Inserted != len(b) {
					err = fmt.Errorf("batch stored %d of %d readings", res.Inserted, len(b))
				}
				if err != nil {
					errc <- err
					return
				}
				rows.Add(int64(res.Inserted))
				mu.Lock()
				lat = append(lat, took)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return 0, nil, err
	}
	return float64(rows.Load()) / time.Since(start).Seconds(), lat, nil
}

// copyTable is the COPY baseline: the readings table's twin in the same
// schema (same columns, defaults, CHECKs, primary key and foreign key).
const copyTable = "bench_copy_readings"

func createCopyTable(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	s := pgx.Identifier{schema}.Sanitize()
	_, err := pool.Exec(ctx, fmt.Sprintf(`
CREATE TABLE IF NOT EXISTS %[1]s.%[2]s (LIKE %[1]s.readings INCLUDING ALL);
ALTER TABLE %[1]s.%[2]s DROP CONSTRAINT IF EXISTS %[2]s_device_fk;
ALTER TABLE %[1]s.%[2]s ADD CONSTRAINT %[2]s_device_fk FOREIGN KEY (device_id) REFERENCES %[1]s.devices (id);`, s, copyTable))
	return err
}

// runCopy copies every worker's batches with COPY FROM, one transaction
// per batch and one connection per worker, as the HTTP path does.
func runCopy(ctx context.Context, pool *pgxpool.Pool, schema string, devices []int64, work [][][]reading) (float64, error) {
	cols := []string{"device_id", "recorded_at", "temperature_celsius", "humidity", "battery_level"}
	var (
		rows atomic.Int64
		errc = make(chan error, len(work))
		wg   sync.WaitGroup
	)
	start := time.Now()
	for w := range work {
		wg.Go(func() {
			for _, b := range work[w] {
				src := pgx.CopyFromSlice(len(b), func(i int) ([]any, error) {
					r := b[i]
					return []any{devices[w], r.RecordedAt, r.TemperatureCelsius, r.Humidity, r.BatteryLevel}, nil
				})
				n, err := pool.CopyFrom(ctx, pgx.Identifier{schema, copyTable}, cols, src)
				if err != nil {
					errc <- err
					return
				}
				rows.Add(n)
			}
		})
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return 0, fmt.Errorf("copy: %w", err)
	}
	return float64(rows.Load()) / time.Since(start).Seconds(), nil
}

// truncate empties the readings table and its COPY twin between runs, so
// every run inserts into tables of the same size.
func truncate(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	s := pgx.Identifier{schema}.Sanitize()
	_, err := pool.Exec(ctx, fmt.Sprintf("TRUNCATE %[1]s.readings, %[1]s.%[2]s", s, copyTable))
	return err
}
