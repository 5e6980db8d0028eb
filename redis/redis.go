// Package redis connects Thermo to Redis with go-redis. Redis is an
// optimisation (cache, locks, fan-out), never a dependency the API cannot
// serve without: a Client is usable while Redis is down, every call then
// fails fast, and readiness reports it.
package redis

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// DefaultTimeout bounds dialing, reading and writing unless the URL sets its
// own (dial_timeout, read_timeout, write_timeout): a slow or absent Redis
// must cost a request milliseconds, not seconds.
const DefaultTimeout = 500 * time.Millisecond

// Client is a Redis client. It is safe for concurrent use.
type Client struct {
	rdb *goredis.Client
}

// Open returns a client for url (redis://[user:password@]host:port/db, or
// rediss:// for TLS). It fails only when url is malformed: if Redis cannot be
// reached, Open still returns the client, so callers keep serving and report
// the outage through Ping. ctx bounds one dial that warms the pool.
func Open(ctx context.Context, url string) (*Client, error) {
	opts, err := goredis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("parse redis URL: %w", err)
	}
	if opts.DialTimeout == 0 {
		opts.DialTimeout = DefaultTimeout
	}
	if opts.ReadTimeout == 0 {
		opts.ReadTimeout = DefaultTimeout
	}
	if opts.WriteTimeout == 0 {
		opts.WriteTimeout = DefaultTimeout
	}
	if opts.MaxRetries == 0 {
		opts.MaxRetries = 1
	}
	// go-redis retries a failed dial five times by default; one attempt per
	// command keeps a dead Redis cheap.
	opts.DialerRetries = 1
	opts.ContextTimeoutEnabled = true
	c := &Client{rdb: goredis.NewClient(opts)}
	_ = c.Ping(ctx) // best effort; an outage is reported by Ping later
	return c, nil
}

// Ping checks that Redis answers.
func (c *Client) Ping(ctx context.Context) error {
	if err := c.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis ping %s: %w", c.rdb.Options().Addr, err)
	}
	return nil
}

// Close closes the client's connections.
func (c *Client) Close() {
	_ = c.rdb.Close()
}

// SetLogger sends go-redis's own log lines (such as each failed dial) to l
// at debug level: an outage is reported once by readiness, not once per
// command. go-redis has a single process-wide logger, so the program's
// entry point calls this, not libraries.
func SetLogger(l *slog.Logger) {
	goredis.SetLogger(logAdapter{l})
}

// logAdapter implements go-redis's internal Logging interface.
type logAdapter struct{ l *slog.Logger }

func (a logAdapter) Printf(ctx context.Context, format string, v ...any) {
	a.l.DebugContext(ctx, "go-redis", "detail", fmt.Sprintf(format, v...))
}
