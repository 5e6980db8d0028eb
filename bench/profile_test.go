package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/thermo/thermo"
	"github.com/thermo/thermo/auth"
	"github.com/thermo/thermo/httpapi"
	"github.com/thermo/thermo/postgres"
)

// profileServer serves the real handler in-process over PostgreSQL at
// DATABASE_URL and returns a client of a fresh tenant with n devices.
func profileServer(b *testing.B, kind string, n int) (*client, []int64) {
	ctx := context.Background()
	dbURL := os.Getenv("DATABASE_URL")
	if dbURL == "" {
		dbURL = "postgres://postgres:postgres@127.0.0.1:5432/thermo?sslmode=disable"
	}
	db, err := postgres.Open(ctx, postgres.Opts{URL: dbURL, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Skipf("no PostgreSQL: %v", err)
	}
	b.Cleanup(db.Close)
	if err := db.MigrateControl(ctx); err != nil {
		b.Fatal(err)
	}
	key := filepath.Join(b.TempDir(), "dev-key.pem")
	dev, err := auth.LoadDevIssuer(key)
	if err != nil {
		b.Fatal(err)
	}
	srv := httpapi.NewServer(httpapi.ServerOpts{
		Logger: slog.New(thermo.NewLogHandler(slog.DiscardHandler)),
		// Cached as in `thermo serve` (cmd/thermo/serve.go).
		Verifier: auth.NewCache(auth.NewMulti(map[string]thermo.TokenVerifier{auth.DevIssuerName: dev}), 100_000, time.Minute),
		Tenants:  postgres.NewTenantService(db), Users: postgres.NewUserService(db),
		Devices: postgres.NewDeviceService(db), Readings: postgres.NewReadingService(db),
		Registry: prometheus.NewRegistry(), Version: "bench",
	})
	ts := httptest.NewServer(srv.Handler())
	b.Cleanup(ts.Close)
	tenant := tenantID(kind, 1)
	c, err := newClient(ts.URL, key, tenant, 64)
	if err != nil {
		b.Fatal(err)
	}
	if err := c.call(ctx, http.MethodGet, "/v1/tenant", nil, nil); err != nil {
		b.Fatal(err)
	}
	pool, _ := pgxpool.New(ctx, dbURL)
	b.Cleanup(pool.Close)
	b.Cleanup(func() { dropTenant(pool, tenant) })
	devices, err := c.createDevices(ctx, kind, n)
	if err != nil {
		b.Fatal(err)
	}
	return c, devices
}

// BenchmarkServerIngest serves the real handler in-process so that
// `go test -bench ServerIngest -cpuprofile` shows where the server's time
// goes per single-reading POST (load generator included, separable by
// function name in pprof).
func BenchmarkServerIngest(b *testing.B) {
	ctx := context.Background()
	c, devices := profileServer(b, "profile", 64)
	var next atomic.Int64
	anchor := time.Now()
	b.SetParallelism(32) // 64 goroutines on 2 CPUs
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := next.Add(1)
		g := newReadingGen(1, int(i), anchor)
		path := fmt.Sprintf("/v1/devices/%d/readings", devices[int(i)%len(devices)])
		for pb.Next() {
			body, _ := json.Marshal(g.next())
			if _, err := c.do(ctx, http.MethodPost, path, body, nil); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkServerBatch is BenchmarkServerIngest for batch ingestion: one op
// is one POST of 1,000 new readings (ns/op is per 1,000 readings), from 4
// concurrent devices (at least; a device per goroutine) as in `bench -bench
// batch`. cpu-ms/op is this process's CPU per batch: server and load
// generator.
func BenchmarkServerBatch(b *testing.B) {
	const workers, size = 4, 1000
	ctx := context.Background()
	procs := runtime.GOMAXPROCS(0)
	par := (workers + procs - 1) / procs
	c, devices := profileServer(b, "profbatch", par*procs) // a device per goroutine
	var next atomic.Int64
	anchor := time.Now().UTC().Truncate(time.Second)
	b.SetParallelism(par)
	cpu := cpuSeconds(os.Getpid())
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(1) - 1)
		g := newReadingGen(1, i, anchor) // its own device: every recordedAt is new
		path := fmt.Sprintf("/v1/devices/%d/readings/batch", devices[i])
		batch := make([]reading, size)
		for pb.Next() {
			for j := range batch {
				batch[j] = g.next()
			}
			body, _ := json.Marshal(map[string]any{"readings": batch})
			var res struct{ Inserted int }
			_, err := c.do(ctx, http.MethodPost, path, body, &res)
			if err == nil && res.Inserted != size {
				err = fmt.Errorf("batch stored %d of %d readings", res.Inserted, size)
			}
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	// This process's CPU (server and load generator), steadier than ns/op
	// on a shared machine.
	b.ReportMetric((cpuSeconds(os.Getpid())-cpu)*1e3/float64(b.N), "cpu-ms/op")
}
