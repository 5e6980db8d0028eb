package redis_test

import (
	"context"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/thermo/thermo/redis"
)

// testRedisURL is the real Redis the tests use; `make test` sets REDIS_URL.
func testRedisURL() string {
	if u := os.Getenv("REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

func TestOpenPing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, err := redis.Open(ctx, testRedisURL())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer c.Close()
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

// A Redis that is down must not stop Open, and Ping must fail fast so
// readiness checks stay quick.
func TestOpenRedisDown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := "redis://" + closedAddr(t) + "/0"

	start := time.Now()
	c, err := redis.Open(ctx, url)
	if err != nil {
		t.Fatalf("Open with Redis down = %v, want a client", err)
	}
	defer c.Close()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Open took %s with Redis down", d)
	}

	start = time.Now()
	err = c.Ping(ctx)
	if err == nil {
		t.Fatal("Ping succeeded against a closed port")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Ping took %s to fail", d)
	}
	if !strings.Contains(err.Error(), "redis ping") {
		t.Errorf("Ping error %q does not say what failed", err)
	}
}

func TestOpenBadURL(t *testing.T) {
	t.Parallel()
	for _, url := range []string{"", "http://127.0.0.1:6379", "redis://127.0.0.1:6379/notadb"} {
		if c, err := redis.Open(context.Background(), url); err == nil {
			c.Close()
			t.Errorf("Open(%q) succeeded, want error", url)
		}
	}
}

// closedAddr returns a loopback address on which nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
