package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/thermo/thermo"
	"github.com/thermo/thermo/jobs"
	"github.com/thermo/thermo/postgres"
	"github.com/thermo/thermo/redis"
)

const workerAbout = `Work background jobs without serving HTTP: the periodic statistics fan-out
(every 15 minutes; each tenant's previous local day once, late readings,
retention), aggregation, retention and alert notification (webhook) jobs.
Any number of workers and servers may run at once: River hands each job to
one of them, and the fan-out runs on the elected leader only. On SIGINT or SIGTERM running jobs get up to
SHUTDOWN_TIMEOUT to finish.`

func runWorker(ctx context.Context, c *cli, args []string) error {
	f := newFlags("thermo worker", "[flags]", workerAbout, c.getenv)
	redisURL, lockURLs, shutdown := f.setting(envRedisURL), f.setting(envRedisLockURLs), f.setting(envShutdownTimeout)
	dbs, logs := addDBSettings(f), addLogSettings(f)
	pos, err := c.parseFlags(f, args)
	if err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("unexpected argument %q (see thermo worker --help)", pos[0])
	}
	timeout, err := shutdown.duration()
	if err != nil {
		return err
	}
	db, sw, logger, err := openWithStats(ctx, c, dbs, logs, redisURL, lockURLs)
	if err != nil {
		return err
	}
	defer db.Close()
	defer sw.close()
	readings, alerts := postgres.NewReadingService(db), postgres.NewAlertService(db)
	client, err := startJobs(ctx, logger, db, readings, alerts, sw.deps(db, logger), true)
	if err != nil {
		return err
	}
	logger.InfoContext(ctx, "thermo worker running", "version", buildVersion())
	<-ctx.Done()
	stopJobs(ctx, logger, client, timeout)
	logger.InfoContext(ctx, "thermo worker stopped")
	return nil
}

// statsWiring is the statistics service as serve and worker use it: the
// PostgreSQL service behind the Redis cache, with the Redis clients it owns.
type statsWiring struct {
	pg      *postgres.StatsService
	service thermo.StatsService
	clients []*redis.Client
}

// openWithStats opens PostgreSQL and the statistics' Redis cache and locks
// for the commands that run without HTTP (worker, aggregate).
func openWithStats(ctx context.Context, c *cli, dbs dbSettings, logs logSettings,
	redisURL, lockURLs *setting) (*postgres.DB, *statsWiring, *slog.Logger, error) {
	logger, err := logs.logger(c.stderr)
	if err != nil {
		return nil, nil, nil, err
	}
	opts, err := dbs.opts(logger)
	if err != nil {
		return nil, nil, nil, err
	}
	redis.SetLogger(logger)
	db, err := openDB(ctx, opts)
	if err != nil {
		return nil, nil, nil, err
	}
	sw, err := newStatsWiring(ctx, db, redisURL, lockURLs, logger, nil)
	if err != nil {
		db.Close()
		return nil, nil, nil, err
	}
	return db, sw, logger, nil
}

// newStatsWiring opens the cache (REDIS_URL) and lock nodes
// (REDIS_LOCK_URLS, default REDIS_URL). Redis may be down: only a malformed
// URL fails.
func newStatsWiring(ctx context.Context, db *postgres.DB, redisURL, lockURLs *setting, logger *slog.Logger,
	reg prometheus.Registerer) (*statsWiring, error) {
	sw := &statsWiring{pg: postgres.NewStatsService(db)}
	cache, err := redis.Open(ctx, redisURL.Value)
	if err != nil {
		return nil, redisURL.invalid(err.Error())
	}
	sw.clients = append(sw.clients, cache)
	nodes := []*redis.Client{cache}
	if lockURLs.Value != "" {
		nodes = nil
		for u := range strings.SplitSeq(lockURLs.Value, ",") {
			node, err := redis.Open(ctx, strings.TrimSpace(u))
			if err != nil {
				sw.close()
				return nil, lockURLs.invalid(err.Error())
			}
			sw.clients = append(sw.clients, node)
			nodes = append(nodes, node)
		}
	}
	sw.service, err = redis.NewStatsCache(redis.StatsCacheOpts{Inner: sw.pg, Cache: cache,
		Locker: redis.NewLocker(nodes...), Logger: logger, Registerer: reg})
	if err != nil {
		sw.close()
		return nil, fmt.Errorf("stats cache: %w", err)
	}
	return sw, nil
}

func (sw *statsWiring) close() {
	for _, c := range sw.clients {
		c.Close()
	}
}

// deps returns the statistics jobs' dependencies.
func (sw *statsWiring) deps(db *postgres.DB, logger *slog.Logger) jobs.StatsDeps {
	return jobs.StatsDeps{Stats: sw.service, Tenants: postgres.NewTenantService(db),
		Readings: postgres.NewReadingService(db), Logger: logger}
}
