package redis_test

import (
	"context"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/thermo/thermo/redis"
)

// A lock over three nodes holds with a majority, and one holder excludes
// the others until it unlocks.
func TestLockerQuorum(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var nodes []*redis.Client
	for _, url := range []string{dbURL(t, 1), dbURL(t, 2), "redis://" + closedAddr(t) + "/0"} {
		c, err := redis.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		nodes = append(nodes, c)
	}
	// Two databases of one server stand in for two nodes; the third is down.
	l := redis.NewLocker(nodes...)
	name := "thermo:test:lock:" + uniqueTenant()
	unlock, ok, err := l.TryLock(ctx, name, 5*time.Second)
	if err != nil || !ok {
		t.Fatalf("first TryLock = %v, %v", ok, err)
	}
	if _, ok, err := l.TryLock(ctx, name, 5*time.Second); ok || err != nil {
		t.Fatalf("second TryLock while held = %v, %v", ok, err)
	}
	unlock()
	unlock2, ok, err := l.TryLock(ctx, name, 5*time.Second)
	if err != nil || !ok {
		t.Fatalf("TryLock after unlock = %v, %v", ok, err)
	}
	unlock2()

	down := redis.NewLocker(nodes[2])
	if _, ok, err := down.TryLock(ctx, name, time.Second); ok || err == nil {
		t.Fatalf("TryLock with every node down = %v, %v; want an error", ok, err)
	}
}

// dbURL is the test Redis with database n: a separate keyspace.
func dbURL(t *testing.T, n int) string {
	t.Helper()
	u, err := url.Parse(testRedisURL())
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + strconv.Itoa(n)
	return u.String()
}
