package redis_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/thermo/thermo"
	"github.com/thermo/thermo/redis"
)

// publishMany publishes n events of tenant at once, device base+i from
// goroutine i with ctx ctxOf(i); it returns each one's id and error.
func publishMany(t *testing.T, l *redis.Live, tenant string, n int, base int64,
	ctxOf func(i int) context.Context) ([]string, []error) {
	t.Helper()
	ids, errs := make([]string, n), make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			e, err := thermo.NewEvent(tenant, thermo.EventReadingStored, base+int64(i), map[string]int{"i": i})
			if err != nil {
				errs[i] = err
				return
			}
			<-start
			errs[i] = l.PublishEvent(ctxOf(i), e)
			ids[i] = e.ID
		})
	}
	close(start)
	wg.Wait()
	return ids, errs
}

func background(int) context.Context { return context.Background() }

// streamLess orders stream ids "ms-seq".
func streamLess(a, b string) bool {
	num := func(id string) (int64, int64) {
		ms, seq, _ := strings.Cut(id, "-")
		m, _ := strconv.ParseInt(ms, 10, 64)
		s, _ := strconv.ParseInt(seq, 10, 64)
		return m, s
	}
	am, as := num(a)
	bm, bs := num(b)
	return am < bm || am == bm && as < bs
}

// receive reads n events from sub, failing on a stall.
func receive(t *testing.T, sub thermo.LiveSubscription, n int) []*thermo.Event {
	t.Helper()
	var got []*thermo.Event
	timeout := time.After(20 * time.Second) // only against a hang
	for len(got) < n {
		select {
		case e, ok := <-sub.Events():
			if !ok {
				t.Fatalf("subscription ended after %d events: %v", len(got), sub.Err())
			}
			got = append(got, e)
		case <-timeout:
			t.Fatalf("received %d of %d events", len(got), n)
		}
	}
	return got
}

// checkDelivery asserts that got, the subscriber's events after marker, are
// exactly want (id → device), in increasing stream order, and that Replay
// from marker returns the same sequence.
func checkDelivery(t *testing.T, l *redis.Live, tenant, marker string, want map[string]int64, got []*thermo.Event) {
	t.Helper()
	for i, e := range got {
		if dev, ok := want[e.ID]; !ok || dev != e.DeviceID {
			t.Fatalf("event %d: id %s device %d not published to %s (want device %d)", i, e.ID, e.DeviceID, tenant, dev)
		}
		if i > 0 && !streamLess(got[i-1].ID, e.ID) {
			t.Fatalf("event %d: id %s after %s: not in stream order", i, e.ID, got[i-1].ID)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("received %d events, want %d", len(got), len(want))
	}
	replay, ok, err := l.Replay(context.Background(), tenant, marker)
	if err != nil || !ok || len(replay) != len(got) {
		t.Fatalf("Replay = %d events, %v, %v; want %d", len(replay), ok, err, len(got))
	}
	for i := range replay {
		if replay[i].ID != got[i].ID || replay[i].DeviceID != got[i].DeviceID {
			t.Fatalf("Replay[%d] = %s, channel had %s", i, replay[i].ID, got[i].ID)
		}
	}
}

func subscribe(t *testing.T, l *redis.Live, tenant string) thermo.LiveSubscription {
	t.Helper()
	sub, err := l.Subscribe(context.Background(), tenant, 1000)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sub.Close)
	return sub
}

// Concurrent publishes of a tenant are grouped, yet each caller gets its own
// id, and the channel, the stream and Replay agree on one order.
func TestLive_PublishConcurrent(t *testing.T) {
	t.Parallel()
	l, tenant := newLive(t), liveTenant()
	sub := subscribe(t, l, tenant)
	marker := publish(t, l, tenant, 1000)
	receive(t, sub, 1)

	const n = 600 // more than one batch
	ids, errs := publishMany(t, l, tenant, n, 1, background)
	want := map[string]int64{}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("publish %d: %v", i, errs[i])
		}
		if _, dup := want[ids[i]]; dup || ids[i] == "" {
			t.Fatalf("publish %d: id %q is empty or not unique", i, ids[i])
		}
		want[ids[i]] = int64(i + 1)
	}
	checkDelivery(t, l, tenant, marker.ID, want, receive(t, sub, n))
}

// Two tenants publishing at once each get exactly their own events.
func TestLive_PublishTenantsParallel(t *testing.T) {
	t.Parallel()
	l := newLive(t)
	tenants := []string{liveTenant(), liveTenant()}
	const n = 300
	var wg sync.WaitGroup
	for k, tenant := range tenants {
		sub := subscribe(t, l, tenant)
		marker := publish(t, l, tenant, 9999)
		receive(t, sub, 1)
		wg.Go(func() {
			base := int64(k*10000 + 1)
			ids, errs := publishMany(t, l, tenant, n, base, background)
			want := map[string]int64{}
			for i := range n {
				if errs[i] != nil {
					t.Errorf("%s publish %d: %v", tenant, i, errs[i])
					return
				}
				want[ids[i]] = base + int64(i)
			}
			checkDelivery(t, l, tenant, marker.ID, want, receive(t, sub, n))
		})
	}
	wg.Wait()
}

// With Redis unreachable every concurrent caller gets an error, and the
// backoff then refuses publishes without trying Redis.
func TestLive_PublishRedisDown(t *testing.T) {
	t.Parallel()
	c, err := redis.Open(context.Background(), "redis://"+closedAddr(t)+"/0")
	if err != nil {
		t.Fatal(err)
	}
	l := redis.NewLive(c, nil)
	t.Cleanup(c.Close)
	t.Cleanup(l.Close)

	start := time.Now()
	_, errs := publishMany(t, l, liveTenant(), 100, 1, background)
	for i, err := range errs {
		if err == nil {
			t.Fatalf("publish %d succeeded with Redis down", i)
		}
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("100 publishes took %s with Redis down", d)
	}
	e, _ := thermo.NewEvent(liveTenant(), thermo.EventReadingStored, 1, nil)
	err = l.PublishEvent(context.Background(), e)
	if thermo.ErrorCode(err) != thermo.EUNAVAILABLE || !strings.Contains(err.Error(), "paused") {
		t.Fatalf("publish after the failure = %v, want the backoff's unavailable", err)
	}
}

// Callers that give up (cancelled or timed out) get their ctx's error and
// do not hold up or fail the others; the tenant keeps publishing.
func TestLive_PublishCancelledCaller(t *testing.T) {
	t.Parallel()
	l, tenant := newLive(t), liveTenant()
	marker := publish(t, l, tenant, 1000)

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	e, _ := thermo.NewEvent(tenant, thermo.EventReadingStored, 1, nil)
	if err := l.PublishEvent(cancelled, e); !errors.Is(err, context.Canceled) || e.ID != "" {
		t.Fatalf("publish with a cancelled ctx = %v (id %q), want canceled", err, e.ID)
	}

	const n = 400
	var left atomic.Int64
	ids, errs := publishMany(t, l, tenant, n, 1, func(i int) context.Context {
		if i%2 == 1 {
			return background(i)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i)*20*time.Microsecond)
		t.Cleanup(cancel)
		return ctx
	})
	for i := range n {
		switch {
		case i%2 == 1 && errs[i] != nil:
			t.Fatalf("publish %d (patient caller): %v", i, errs[i])
		case errs[i] != nil && thermo.ErrorCode(errs[i]) == thermo.EUNAVAILABLE:
			t.Fatalf("publish %d (impatient caller): %v: its timeout tripped the backoff", i, errs[i])
		case errs[i] != nil:
			left.Add(1)
		}
	}
	t.Logf("%d of %d impatient callers left before their event was published", left.Load(), n/2)

	// Every id a caller got is in the stream, in the order of the stream.
	replay, ok, err := l.Replay(context.Background(), tenant, marker.ID)
	if err != nil || !ok {
		t.Fatalf("Replay = %v, %v", ok, err)
	}
	pos := map[string]int{}
	for i, e := range replay {
		pos[e.ID] = i
	}
	for i, id := range ids {
		if p, ok := pos[id]; errs[i] == nil && (!ok || replay[p].DeviceID != int64(i+1)) {
			t.Fatalf("publish %d: id %s not in the stream with its device", i, id)
		}
	}
	after := publish(t, l, tenant, 2000)
	if !streamLess(replay[len(replay)-1].ID, after.ID) {
		t.Fatalf("later publish %s is not after %s", after.ID, replay[len(replay)-1].ID)
	}
}

// BenchmarkPublishEvent publishes reading events from many concurrent
// callers (like ingest handlers), to one tenant or spread over 16.
func BenchmarkPublishEvent(b *testing.B) {
	for _, n := range []int{1, 16} {
		b.Run(fmt.Sprintf("tenants=%d", n), func(b *testing.B) {
			l := newLive(b)
			tenants := make([]string, n)
			for i := range tenants {
				tenants[i] = liveTenant()
			}
			var next atomic.Int64
			b.SetParallelism(32)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					i := next.Add(1)
					e, err := thermo.NewEvent(tenants[int(i)%n], thermo.EventReadingStored, i%100+1,
						map[string]any{"deviceId": i%100 + 1, "temperature": 21.5, "at": "2025-01-01T00:00:00Z"})
					if err != nil {
						b.Fatal(err)
					}
					if err := l.PublishEvent(ctx, e); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
