package redis_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/thermo/thermo"
	"github.com/thermo/thermo/redis"
)

func newLive(t testing.TB) *redis.Live {
	t.Helper()
	c, err := redis.Open(context.Background(), testRedisURL())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(context.Background()); err != nil {
		t.Fatalf("redis is required: %v", err)
	}
	l := redis.NewLive(c, nil)
	t.Cleanup(c.Close)
	t.Cleanup(l.Close)
	return l
}

func liveTenant() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "live_" + hex.EncodeToString(b)
}

func publish(t *testing.T, l *redis.Live, tenant string, deviceID int64) *thermo.Event {
	t.Helper()
	e, err := thermo.NewEvent(tenant, thermo.EventReadingStored, deviceID, map[string]int64{"deviceId": deviceID})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.PublishEvent(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	return e
}

// A subscriber that does not read is dropped with ErrLiveOverflow once its
// buffer is full; the publisher never waits for it.
func TestLive_Overflow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l, tenant := newLive(t), liveTenant()
	sub, err := l.Subscribe(ctx, tenant, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	for i := range 5 {
		publish(t, l, tenant, int64(i+1))
	}
	deadline := time.Now().Add(20 * time.Second) // only against a hang
	for sub.Err() == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !errors.Is(sub.Err(), thermo.ErrLiveOverflow) {
		t.Fatalf("Err = %v, want overflow", sub.Err())
	}
	n := 0
	for range sub.Events() {
		n++
	}
	if n != 2 {
		t.Fatalf("got %d buffered events, want 2", n)
	}
}

func TestLive_TicketSingleUse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := newLive(t)
	p := thermo.Principal{Subject: "alice", TenantID: liveTenant(), Issuer: "test"}
	tk, err := l.IssueTicket(ctx, p, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	got, err := l.RedeemTicket(ctx, tk)
	if err != nil || got != p {
		t.Fatalf("RedeemTicket = %+v, %v; want %+v", got, err, p)
	}
	if _, err := l.RedeemTicket(ctx, tk); thermo.ErrorCode(err) != thermo.EUNAUTHORIZED {
		t.Fatalf("second redemption: %v, want unauthorized", err)
	}
}

func TestLive_Replay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l, tenant := newLive(t), liveTenant()
	first := publish(t, l, tenant, 1)
	second, third := publish(t, l, tenant, 2), publish(t, l, tenant, 3)
	publish(t, l, liveTenant(), 9) // another tenant's stream
	got, ok, err := l.Replay(ctx, tenant, first.ID)
	if err != nil || !ok || len(got) != 2 || got[0].ID != second.ID || got[1].ID != third.ID || got[1].DeviceID != 3 {
		t.Fatalf("Replay = %+v, %v, %v", got, ok, err)
	}
	if _, ok, _ := l.Replay(ctx, tenant, "1-0"); ok {
		t.Fatal("Replay from outside the window succeeded")
	}
}
