package redis

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"

	"github.com/thermo/thermo"
)

// Cache defaults.
const (
	DefaultWeeklyTTL = time.Hour
	// DefaultLockTTL bounds a recomputation: the lock expires after it even
	// if its holder died, and waiters give up waiting and query themselves.
	DefaultLockTTL = 10 * time.Second
	pollInterval   = 20 * time.Millisecond
	delBatch       = 500
)

var _ thermo.StatsService = (*StatsCache)(nil)

// WeeklyStatsKey is the cache key of a device's weekly summary. The tenant
// is part of every key, so one tenant's entries can never be read as
// another's.
func WeeklyStatsKey(tenant string, deviceID int64) string {
	return "thermo:" + tenant + ":stats:weekly:" + strconv.FormatInt(deviceID, 10)
}

func weeklyLockName(tenant string, deviceID int64) string {
	return "thermo:" + tenant + ":lock:stats:weekly:" + strconv.FormatInt(deviceID, 10)
}

// StatsCacheOpts configures a StatsCache.
type StatsCacheOpts struct {
	Inner  thermo.StatsService // required: the source of truth
	Cache  *Client             // required
	Locker *Locker             // default: a lock on Cache alone
	// TTL of a weekly entry (DefaultWeeklyTTL if 0); LockTTL bounds one
	// recomputation (DefaultLockTTL if 0).
	TTL, LockTTL time.Duration
	Logger       *slog.Logger
	// Registerer receives thermo_cache_errors_total and
	// thermo_cache_requests_total; nil leaves them unregistered.
	Registerer prometheus.Registerer
}

// StatsCache is a thermo.StatsService that serves weekly summaries
// cache-aside from Redis and invalidates a device's entry after its
// statistics are written. Concurrent misses on one key recompute once:
// the first takes a Redlock, the others poll the cache. Any Redis failure
// falls back to the inner service, with a warning and a metric.
type StatsCache struct {
	inner        thermo.StatsService
	cache        *Client
	locker       *Locker
	ttl, lockTTL time.Duration
	logger       *slog.Logger
	errs         *prometheus.CounterVec
	requests     *prometheus.CounterVec
}

// NewStatsCache returns a StatsCache; it fails if its metrics are already
// registered.
func NewStatsCache(opts StatsCacheOpts) (*StatsCache, error) {
	c := &StatsCache{inner: opts.Inner, cache: opts.Cache, locker: opts.Locker,
		ttl: opts.TTL, lockTTL: opts.LockTTL, logger: opts.Logger}
	if c.locker == nil {
		c.locker = NewLocker(opts.Cache)
	}
	if c.ttl <= 0 {
		c.ttl = DefaultWeeklyTTL
	}
	if c.lockTTL <= 0 {
		c.lockTTL = DefaultLockTTL
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	c.errs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "thermo_cache_errors_total",
		Help: "Redis cache operations that failed and fell back to PostgreSQL, by operation.",
	}, []string{"op"})
	c.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "thermo_cache_requests_total",
		Help: "Weekly statistics cache lookups, by result (hit, miss, error).",
	}, []string{"result"})
	if opts.Registerer != nil {
		for _, col := range []prometheus.Collector{c.errs, c.requests} {
			if err := opts.Registerer.Register(col); err != nil {
				return nil, err
			}
		}
	}
	return c, nil
}

// FindWeeklyStats serves the weekly summary from the cache, computing it
// once per miss across all instances.
func (c *StatsCache) FindWeeklyStats(ctx context.Context, deviceID int64) (*thermo.WeeklyStats, error) {
	tenant := thermo.TenantFromContext(ctx)
	if tenant == "" {
		return c.inner.FindWeeklyStats(ctx, deviceID)
	}
	key := WeeklyStatsKey(tenant, deviceID)
	if w, err := c.get(ctx, key); err != nil || w != nil {
		if err != nil {
			return c.inner.FindWeeklyStats(ctx, deviceID)
		}
		c.requests.WithLabelValues("hit").Inc()
		return w, nil
	}
	c.requests.WithLabelValues("miss").Inc()
	unlock, ok, err := c.locker.TryLock(ctx, weeklyLockName(tenant, deviceID), c.lockTTL)
	switch {
	case err != nil:
		c.fail(ctx, "lock", err)
		return c.inner.FindWeeklyStats(ctx, deviceID)
	case !ok:
		return c.awaitWeekly(ctx, key, deviceID)
	}
	defer unlock()
	// Re-check: the previous holder may have filled it after our miss.
	if w, err := c.get(ctx, key); err == nil && w != nil {
		return w, nil
	}
	w, err := c.inner.FindWeeklyStats(ctx, deviceID)
	if err != nil {
		return nil, err
	}
	c.set(ctx, key, w)
	return w, nil
}

// awaitWeekly waits for the lock holder to fill key, up to the lock's TTL,
// then computes the summary itself.
func (c *StatsCache) awaitWeekly(ctx context.Context, key string, deviceID int64) (*thermo.WeeklyStats, error) {
	deadline := time.Now().Add(c.lockTTL)
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
		}
		w, err := c.get(ctx, key)
		if err != nil {
			break
		}
		if w != nil {
			return w, nil
		}
	}
	return c.inner.FindWeeklyStats(ctx, deviceID)
}

// get returns the cached entry, nil on a miss, or the Redis error.
func (c *StatsCache) get(ctx context.Context, key string) (*thermo.WeeklyStats, error) {
	b, err := c.cache.rdb.Get(ctx, key).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, nil
	} else if err != nil {
		c.requests.WithLabelValues("error").Inc()
		c.fail(ctx, "get", err)
		return nil, err
	}
	w := &thermo.WeeklyStats{}
	if err := json.Unmarshal(b, w); err != nil {
		c.fail(ctx, "decode", err)
		return nil, nil // a bad entry is a miss; the recomputation overwrites it
	}
	return w, nil
}

func (c *StatsCache) set(ctx context.Context, key string, w *thermo.WeeklyStats) {
	b, err := json.Marshal(w)
	if err == nil {
		err = c.cache.rdb.Set(ctx, key, b, c.ttl).Err()
	}
	if err != nil {
		c.fail(ctx, "set", err)
	}
}

// invalidate drops the weekly entries of devices whose statistics changed.
// It runs after the aggregation committed. A failure leaves an entry stale
// for at most its TTL.
func (c *StatsCache) invalidate(ctx context.Context, res *thermo.AggregateResult) {
	tenant := thermo.TenantFromContext(ctx)
	for start := 0; start < len(res.Changed); start += delBatch {
		ids := res.Changed[start:min(start+delBatch, len(res.Changed))]
		keys := make([]string, len(ids))
		for i, id := range ids {
			keys[i] = WeeklyStatsKey(tenant, id)
		}
		if err := c.cache.rdb.Del(ctx, keys...).Err(); err != nil {
			c.fail(ctx, "del", err)
			return
		}
	}
}

// fail records a Redis failure that the caller works around.
func (c *StatsCache) fail(ctx context.Context, op string, err error) {
	c.errs.WithLabelValues(op).Inc()
	c.logger.WarnContext(ctx, "redis cache unavailable; using PostgreSQL", "op", op, "error", err.Error())
}

// AggregateDay aggregates through the inner service, then invalidates.
func (c *StatsCache) AggregateDay(ctx context.Context, day time.Time) (*thermo.AggregateResult, error) {
	res, err := c.inner.AggregateDay(ctx, day)
	if err == nil {
		c.invalidate(ctx, res)
	}
	return res, err
}

// AggregateDirty aggregates through the inner service, then invalidates.
func (c *StatsCache) AggregateDirty(ctx context.Context, day time.Time) (*thermo.AggregateResult, error) {
	res, err := c.inner.AggregateDirty(ctx, day)
	if err == nil {
		c.invalidate(ctx, res)
	}
	return res, err
}

// RescanDay rescans through the inner service, then invalidates.
func (c *StatsCache) RescanDay(ctx context.Context, day time.Time) (*thermo.AggregateResult, error) {
	res, err := c.inner.RescanDay(ctx, day)
	if err == nil {
		c.invalidate(ctx, res)
	}
	return res, err
}

// DirtyDays is not cached.
func (c *StatsCache) DirtyDays(ctx context.Context) ([]time.Time, error) {
	return c.inner.DirtyDays(ctx)
}

// FindDailyStats is not cached: it is a range query over a primary key.
func (c *StatsCache) FindDailyStats(ctx context.Context, deviceID int64, from, to time.Time) ([]*thermo.DailyStats, error) {
	return c.inner.FindDailyStats(ctx, deviceID, from, to)
}
