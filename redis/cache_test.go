package redis_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/thermo/thermo"
	"github.com/thermo/thermo/mock"
	"github.com/thermo/thermo/redis"
)

// cacheBundle is a StatsCache over a counting fake of the database.
type cacheBundle struct {
	cache    *redis.StatsCache
	client   *redis.Client
	reg      *prometheus.Registry
	logs     *lockedBuffer
	computed atomic.Int64 // FindWeeklyStats calls that reached the "database"
	changed  []int64      // what the fake aggregation reports as written
	ctx      context.Context
	tenant   string
}

func setupCache(t *testing.T, url string) *cacheBundle {
	t.Helper()
	client, err := redis.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	b := &cacheBundle{client: client, reg: prometheus.NewRegistry(), logs: &lockedBuffer{}}
	b.tenant = uniqueTenant()
	b.ctx = thermo.WithTenant(context.Background(), b.tenant)
	inner := &mock.StatsService{
		FindWeeklyStatsFn: func(ctx context.Context, id int64) (*thermo.WeeklyStats, error) {
			n := b.computed.Add(1)
			time.Sleep(50 * time.Millisecond) // a query long enough for misses to pile up
			return &thermo.WeeklyStats{DeviceID: id, Count: int(n), To: thermo.TenantFromContext(ctx)}, nil
		},
		AggregateDayFn: func(context.Context, time.Time) (*thermo.AggregateResult, error) {
			return &thermo.AggregateResult{Changed: b.changed}, nil
		},
	}
	b.cache, err = redis.NewStatsCache(redis.StatsCacheOpts{Inner: inner, Cache: client, Registerer: b.reg,
		Logger: slog.New(slog.NewJSONHandler(b.logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *cacheBundle) weekly(t *testing.T, ctx context.Context, id int64) *thermo.WeeklyStats {
	t.Helper()
	w, err := b.cache.FindWeeklyStats(ctx, id)
	if err != nil {
		t.Fatalf("FindWeeklyStats: %v", err)
	}
	return w
}

func (b *cacheBundle) errorCount() float64 {
	mfs, _ := b.reg.Gather()
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == "thermo_cache_errors_total" {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

func uniqueTenant() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "c_" + hex.EncodeToString(b)
}

func TestWeeklyCacheHitMissInvalidation(t *testing.T) {
	t.Parallel()
	b := setupCache(t, testRedisURL())
	if w := b.weekly(t, b.ctx, 7); w.Count != 1 || b.computed.Load() != 1 {
		t.Fatalf("miss: %+v, computed %d", w, b.computed.Load())
	}
	if w := b.weekly(t, b.ctx, 7); w.Count != 1 || b.computed.Load() != 1 {
		t.Fatalf("hit recomputed: %+v, computed %d", w, b.computed.Load())
	}
	// Another tenant's device 7 is another key.
	other := thermo.WithTenant(context.Background(), uniqueTenant())
	if w := b.weekly(t, other, 7); w.To == b.tenant || b.computed.Load() != 2 {
		t.Fatalf("other tenant read %+v (computed %d)", w, b.computed.Load())
	}
	// An aggregation that wrote nothing for device 7 keeps its entry.
	b.changed = []int64{8}
	if _, err := b.cache.AggregateDay(b.ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	b.weekly(t, b.ctx, 7)
	if b.computed.Load() != 2 {
		t.Fatalf("entry dropped by an unrelated write (computed %d)", b.computed.Load())
	}
	b.changed = []int64{7}
	if _, err := b.cache.AggregateDay(b.ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	if w := b.weekly(t, b.ctx, 7); w.Count != 3 {
		t.Fatalf("after invalidation: %+v, want a recomputation", w)
	}
	if b.errorCount() != 0 {
		t.Fatalf("cache errors with Redis up: %s", b.logs)
	}
}

// 50 concurrent misses on one key cost one computation.
func TestWeeklyCacheStampede(t *testing.T) {
	t.Parallel()
	b := setupCache(t, testRedisURL())
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Go(func() {
			w, err := b.cache.FindWeeklyStats(b.ctx, 42)
			if err == nil && w.DeviceID != 42 {
				err = fmt.Errorf("got %+v", w)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := b.computed.Load(); n != 1 {
		t.Fatalf("50 concurrent misses computed %d times, want 1", n)
	}
}

// With nothing listening, answers come from the database with a warning and
// a metric, never an error.
func TestWeeklyCacheRedisDown(t *testing.T) {
	t.Parallel()
	b := setupCache(t, "redis://"+closedAddr(t)+"/0")
	for i := range 3 {
		if w := b.weekly(t, b.ctx, 1); w.Count != i+1 {
			t.Fatalf("call %d: %+v", i, w)
		}
	}
	b.changed = []int64{1}
	if _, err := b.cache.AggregateDay(b.ctx, time.Now()); err != nil {
		t.Fatalf("aggregation failed on a cache outage: %v", err)
	}
	if b.errorCount() < 4 || !strings.Contains(b.logs.String(), "redis cache unavailable") {
		t.Fatalf("errors %v, logs %s", b.errorCount(), b.logs)
	}
}

// Redis stopping while in use: the next calls fall back to the database.
func TestWeeklyCacheRedisStopsMidTest(t *testing.T) {
	t.Parallel()
	url, stop := startRedis(t)
	b := setupCache(t, url)
	b.weekly(t, b.ctx, 5)
	b.weekly(t, b.ctx, 5)
	if b.computed.Load() != 1 {
		t.Fatalf("no hit before the outage (computed %d)", b.computed.Load())
	}
	stop()
	if w := b.weekly(t, b.ctx, 5); w.Count != 2 {
		t.Fatalf("after Redis stopped: %+v", w)
	}
	if b.errorCount() == 0 {
		t.Fatal("no cache error counted")
	}
}

// startRedis runs a private redis-server on a free port and returns its URL
// and a function that kills it; the test is skipped without redis-server.
func startRedis(t *testing.T) (string, func()) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not on PATH: cannot stop a Redis of our own mid-test")
	}
	addr := closedAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	var once sync.Once
	stop := func() { once.Do(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }) }
	t.Cleanup(stop)
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		} else if i > 200 {
			t.Fatalf("redis-server did not start on %s", addr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return "redis://" + addr + "/0", stop
}

// lockedBuffer is a bytes.Buffer safe for concurrent log writers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
