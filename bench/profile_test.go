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

// BenchmarkServerIngest serves the real handler in-process so that
// `go test -bench ServerIngest -cpuprofile` shows where the server's time
// goes per single-reading POST (load generator included, separable by
// function name in pprof).
func BenchmarkServerIngest(b *testing.B) {
	ctx := context.Background()
	dbURL := os.Getenv("DATABASE_URL")
	if dbURL == "" {
		dbURL = "postgres://postgres:postgres@127.0.0.1:5432/thermo?sslmode=disable"
	}
	db, err := postgres.Open(ctx, postgres.Opts{URL: dbURL, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Skipf("no PostgreSQL: %v", err)
	}
	defer db.Close()
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
	defer ts.Close()
	tenant := tenantID("profile", 1)
	c, err := newClient(ts.URL, key, tenant, 64)
	if err != nil {
		b.Fatal(err)
	}
	if err := c.call(ctx, http.MethodGet, "/v1/tenant", nil, nil); err != nil {
		b.Fatal(err)
	}
	pool, _ := pgxpool.New(ctx, dbURL)
	defer pool.Close()
	defer dropTenant(pool, tenant)
	devices, err := c.createDevices(ctx, "profile", 64)
	if err != nil {
		b.Fatal(err)
	}
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
