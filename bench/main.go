// Command bench is Thermo's benchmark harness: it starts `thermo serve
// --dev` as a child process, generates its data sets from a seed and
// measures from the client side. Results are printed as Markdown for
// BENCHMARKS.md.
//
//	go run ./bench -bench ingest,batch,queries -quick
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// opts are the harness's settings; sizes depend on -quick.
type opts struct {
	bin, dbURL, dir string
	benches         []string
	quick, keep     bool
	runs            int
	seed            uint64
	ingestFor       time.Duration
	batchRows       int
	qDevices, qPer  int
	qRequests       int
	aDevices        int // aggregation: devices × 2,880 readings
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, w io.Writer) error {
	o, err := parse(args)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.dir, 0o755); err != nil {
		return err
	}
	srv, err := startServer(ctx, o.bin, o.dbURL, o.dir)
	if err != nil {
		return err
	}
	defer srv.stop()
	pool, err := pgxpool.New(ctx, o.dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	fmt.Fprintf(w, "# Thermo benchmarks (%s mode, %d runs, seed %d)\n\n%s\n\n", mode(o.quick), o.runs, o.seed, machine(ctx, pool))
	for _, b := range o.benches {
		var err error
		switch b {
		case "ingest":
			err = benchIngest(ctx, w, o, srv)
		case "batch":
			err = benchBatch(ctx, w, o, srv, pool)
		case "queries":
			err = benchQueries(ctx, w, o, srv, pool)
		case "aggregate":
			err = benchAggregate(ctx, w, o, srv, pool)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", b, err)
		}
	}
	return nil
}

func parse(args []string) (opts, error) {
	o := opts{}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	benches := fs.String("bench", "ingest,batch,queries", "comma-separated benchmarks: ingest, batch, queries, aggregate (or all)")
	fs.BoolVar(&o.quick, "quick", false, "small sizes and short runs (under 5 minutes in all)")
	fs.BoolVar(&o.keep, "keep", false, "keep the query and aggregation tenants' data (for EXPLAIN)")
	fs.IntVar(&o.runs, "runs", 3, "runs per measurement; the median is reported")
	fs.Uint64Var(&o.seed, "seed", 42, "data seed")
	fs.StringVar(&o.bin, "bin", "bin/thermo", "thermo binary to serve with")
	fs.StringVar(&o.dir, "dir", "bin/bench", "directory for the server log")
	fs.StringVar(&o.dbURL, "database-url", os.Getenv("DATABASE_URL"), "PostgreSQL URL (DATABASE_URL)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.dbURL == "" {
		o.dbURL = "postgres://postgres:postgres@127.0.0.1:5432/thermo?sslmode=disable"
	}
	all := []string{"ingest", "batch", "queries", "aggregate"}
	for _, b := range strings.Split(*benches, ",") {
		switch b = strings.TrimSpace(b); {
		case b == "all":
			o.benches = all
		case slices.Contains(all, b):
			o.benches = append(o.benches, b)
		case b != "":
			return o, fmt.Errorf("-bench: unknown benchmark %q (want %s or all)", b, strings.Join(all, ", "))
		}
	}
	if o.runs < 1 {
		return o, fmt.Errorf("-runs must be at least 1")
	}
	o.ingestFor, o.batchRows, o.qDevices, o.qPer, o.qRequests = 30*time.Second, 1_000_000, 1000, 10_000, 1000
	o.aDevices = 10_000 // 28.8M readings
	if o.quick {
		o.ingestFor, o.batchRows, o.qPer, o.qRequests = 5*time.Second, 100_000, 1000, 200
		o.aDevices = 1000 // 2.88M readings
	}
	return o, nil
}

func mode(quick bool) string {
	if quick {
		return "quick"
	}
	return "full"
}

// machine describes where the numbers come from.
func machine(ctx context.Context, pool *pgxpool.Pool) string {
	var pg string
	_ = pool.QueryRow(ctx, "SHOW server_version").Scan(&pg)
	model := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	return fmt.Sprintf("Machine: %d CPUs (%s), %s, PostgreSQL %s, %s, %s. Started %s.",
		runtime.NumCPU(), model, runtime.GOOS+"/"+runtime.GOARCH, pg, runtime.Version(),
		"server and PostgreSQL on the same host as the load generator", time.Now().UTC().Format(time.RFC3339))
}

// tenantID names a fresh benchmark tenant.
func tenantID(kind string, seed uint64) string {
	return fmt.Sprintf("bench_%s_%d_%d", kind, seed, time.Now().Unix()%1_000_000)
}

// newTenant provisions tenant through its first request and returns a
// client for it.
func newTenant(ctx context.Context, srv *server, tenant string, conns int) (*client, error) {
	c, err := newClient(srv.url, srv.devKey, tenant, conns)
	if err != nil {
		return nil, err
	}
	return c, c.call(ctx, "GET", "/v1/tenant", nil, nil)
}

func schema(tenant string) string { return "tenant_" + tenant }

// dropTenant removes a benchmark tenant's schema and row.
func dropTenant(pool *pgxpool.Pool, tenant string) {
	ctx := context.Background()
	_, _ = pool.Exec(ctx, fmt.Sprintf(`DROP SCHEMA IF EXISTS "%s" CASCADE`, schema(tenant)))
	_, _ = pool.Exec(ctx, "DELETE FROM public.tenants WHERE id = $1", tenant)
}

func benchIngest(ctx context.Context, w io.Writer, o opts, srv *server) error {
	tenant := tenantID("ingest", o.seed)
	c, err := newTenant(ctx, srv, tenant, 256)
	if err != nil {
		return err
	}
	pool, _ := pgxpool.New(ctx, o.dbURL)
	defer pool.Close()
	defer dropTenant(pool, tenant)
	devices, err := c.createDevices(ctx, "ingest", 256)
	if err != nil {
		return err
	}
	anchor := time.Now().UTC().Truncate(time.Second)
	gens := make([]*readingGen, len(devices))
	for i := range gens {
		gens[i] = newReadingGen(o.seed, i, anchor)
	}
	pid := srv.cmd.Process.Pid
	if _, err := runIngest(ctx, c, devices[:64], gens, 2*time.Second, pid); err != nil { // warm-up
		return err
	}
	fmt.Fprintf(w, "## 1. Single-reading ingestion over HTTP (%s per run)\n\n", o.ingestFor)
	fmt.Fprintf(w, "| devices | run | readings/s | p50 ms | p99 ms | errors | server CPU s/1k | postgres CPU s/1k | harness CPU s/1k |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, conc := range []int{64, 256} {
		var rates, p50s, p99s, srvCPU, pgCPU []float64
		for r := 1; r <= o.runs; r++ {
			res, err := runIngest(ctx, c, devices[:conc], gens, o.ingestFor, pid)
			if err != nil {
				return err
			}
			k := float64(res.readings) / 1000
			fmt.Fprintf(w, "| %d | %d | %.0f | %.2f | %.2f | %d | %.3f | %.3f | %.3f |\n", conc, r, res.rate(), ms(res.p50), ms(res.p99),
				res.errors, res.cpu.server/k, res.cpu.postgres/k, res.cpu.harness/k)
			rates, p50s, p99s = append(rates, res.rate()), append(p50s, ms(res.p50)), append(p99s, ms(res.p99))
			srvCPU, pgCPU = append(srvCPU, res.cpu.server/k), append(pgCPU, res.cpu.postgres/k)
		}
		fmt.Fprintf(w, "| **%d** | **median** | **%.0f** | **%.2f** | **%.2f** | | **%.3f** | **%.3f** | |\n",
			conc, median(rates), median(p50s), median(p99s), median(srvCPU), median(pgCPU))
	}
	fmt.Fprintf(w, "\nServer peak RSS (VmHWM) after the ingestion runs: %.1f MiB.\n\n", peakRSS(pid))
	return nil
}

func benchBatch(ctx context.Context, w io.Writer, o opts, srv *server, pool *pgxpool.Pool) error {
	const workers, size = 4, 1000
	tenant := tenantID("batch", o.seed)
	c, err := newTenant(ctx, srv, tenant, workers)
	if err != nil {
		return err
	}
	defer dropTenant(pool, tenant)
	devices, err := c.createDevices(ctx, "batch", workers)
	if err != nil {
		return err
	}
	if err := createCopyTable(ctx, pool, schema(tenant)); err != nil {
		return err
	}
	work := batches(o.seed, workers, o.batchRows, size, time.Now().UTC().Truncate(time.Second))
	fmt.Fprintf(w, "## 2. Batch ingestion, %d readings per request, %d rows per run, %d concurrent devices\n\n", size, o.batchRows, workers)
	fmt.Fprintf(w, "| run | HTTP batch readings/s | p50 ms/request | p99 ms/request | raw COPY rows/s | ratio |\n|---|---|---|---|---|---|\n")
	var ratios, httpRates, copyRates []float64
	for r := 1; r <= o.runs; r++ {
		var res batchResult
		var lat []time.Duration
		steps := []func() error{
			func() (err error) { res.httpRate, lat, err = runBatchHTTP(ctx, c, devices, work); return err },
			func() (err error) { res.copyRate, err = runCopy(ctx, pool, schema(tenant), devices, work); return err },
		}
		if r%2 == 0 { // alternate the order so neither side always runs on a warm cache
			steps[0], steps[1] = steps[1], steps[0]
		}
		for _, step := range steps {
			if err := truncate(ctx, pool, schema(tenant)); err != nil {
				return err
			}
			if err := step(); err != nil {
				return err
			}
		}
		ratio := res.httpRate / res.copyRate
		fmt.Fprintf(w, "| %d | %.0f | %.1f | %.1f | %.0f | %.2f |\n", r, res.httpRate, ms(percentile(lat, 0.5)), ms(percentile(lat, 0.99)), res.copyRate, ratio)
		ratios, httpRates, copyRates = append(ratios, ratio), append(httpRates, res.httpRate), append(copyRates, res.copyRate)
	}
	fmt.Fprintf(w, "| **median** | **%.0f** | | | **%.0f** | **%.2f** |\n\n", median(httpRates), median(copyRates), median(ratios))
	return nil
}

func benchQueries(ctx context.Context, w io.Writer, o opts, srv *server, pool *pgxpool.Pool) error {
	tenant := tenantID("queries", o.seed)
	c, err := newTenant(ctx, srv, tenant, 1)
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintf(w, "Kept tenant %s: thermo explain --tenant %s --device <id>\n\n", tenant, tenant)
	} else {
		defer dropTenant(pool, tenant)
	}
	start := time.Now()
	if err := generateReadings(ctx, pool, schema(tenant), o.qDevices, o.qPer, o.seed); err != nil {
		return err
	}
	gen := time.Since(start)
	var all []int64
	rows, _ := pool.Query(ctx, fmt.Sprintf(`SELECT id FROM "%s".devices ORDER BY id`, schema(tenant)))
	for rows.Next() {
		var id int64
		_ = rows.Scan(&id)
		all = append(all, id)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(o.seed, 7))
	sample, deep := make([]int64, 20), map[int64]string{}
	for i := range sample {
		sample[i] = all[rng.IntN(len(all))]
		if deep[sample[i]], err = deepCursor(ctx, c, sample[i], o.qPer); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "## 3. Queries on a tenant of %d devices × %d readings = %d readings (generated in %s)\n\n",
		o.qDevices, o.qPer, o.qDevices*o.qPer, gen.Round(time.Second))
	fmt.Fprintf(w, "Deep page: the last page of 50 (position %d of a device's history). Requests are sequential, on 20 seeded devices.\n\n", o.qPer-50)
	fmt.Fprintf(w, "| query | requests/run | p50 ms (runs) | p99 ms (runs) | median p50 | median p99 |\n|---|---|---|---|---|---|\n")
	p50 := map[string]float64{}
	for _, q := range queries(o.qRequests, deep) {
		var p50s, p99s []float64
		for range o.runs {
			res, err := runQuery(ctx, c, q, sample, rng)
			if err != nil {
				return err
			}
			p50s, p99s = append(p50s, ms(res.p50)), append(p99s, ms(res.p99))
		}
		p50[q.name] = median(p50s)
		fmt.Fprintf(w, "| %s | %d | %s | %s | %.2f | %.2f |\n", q.name, q.n, list(p50s), list(p99s), median(p50s), median(p99s))
	}
	fmt.Fprintf(w, "\nDeep page / page 1 (median p50): %.2f\n\n", p50["history deep page"]/p50["history page 1"])
	return nil
}

func list(xs []float64) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprintf("%.2f", x)
	}
	return strings.Join(s, " / ")
}
