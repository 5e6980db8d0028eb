// Package postgres implements Thermo's services on PostgreSQL with pgx.
//
// Tenancy: every tenant-scoped statement runs inside a transaction that first
// sets search_path to the tenant's schema (see tx.go). A context without a
// tenant gets an empty search_path, so an unqualified table name fails instead
// of falling back to public.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Opts configures DB.
type Opts struct {
	// URL is the primary's connection string (required).
	URL string
	// ReplicaURL, if set, receives reads made outside a transaction.
	ReplicaURL string
	Logger     *slog.Logger
	// SlowQuery is the duration above which a statement is logged as slow
	// (default 200ms; negative disables).
	SlowQuery time.Duration
	// RepeatLimit is how many times one statement may run in a request
	// before an N+1 warning is logged (default 20).
	RepeatLimit int
	// MaxConns bounds each pool (default: pgxpool's, max(4, NumCPU)).
	MaxConns int32
}

// DB holds the primary pool and, optionally, a replica pool.
type DB struct {
	primary *pgxpool.Pool
	replica *pgxpool.Pool // == primary when no replica is configured
	logger  *slog.Logger
	// primaryConfig is kept for migrations, which need database/sql.
	primaryConfig *pgx.ConnConfig

	// provisioned remembers tenants whose schema is known to be current,
	// so EnsureTenant costs no query after the first call.
	provisioned sync.Map
	// zones caches each tenant's *time.Location (zone.go): a tenant's time
	// zone is set at creation, and ingest must not pay a query per batch.
	zones sync.Map
}

// Open connects both pools and pings them. Errors name the setting to fix.
func Open(ctx context.Context, opts Opts) (*DB, error) {
	if opts.URL == "" {
		return nil, errors.New("DATABASE_URL is empty: set it to a PostgreSQL connection string")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.SlowQuery == 0 {
		opts.SlowQuery = 200 * time.Millisecond
	}
	if opts.RepeatLimit == 0 {
		opts.RepeatLimit = 20
	}
	db := &DB{logger: opts.Logger}
	var err error
	db.primary, err = newPool(ctx, opts, opts.URL, rolePrimary)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	db.primaryConfig = db.primary.Config().ConnConfig.Copy()
	db.replica = db.primary
	if opts.ReplicaURL != "" {
		db.replica, err = newPool(ctx, opts, opts.ReplicaURL, roleReplica)
		if err != nil {
			db.primary.Close()
			return nil, fmt.Errorf("REPLICA_DATABASE_URL: %w", err)
		}
	}
	return db, nil
}

func newPool(ctx context.Context, opts Opts, url, role string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse connection string: %w", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	cfg.ConnConfig.Tracer = &tracer{
		role: role, logger: opts.Logger,
		slow: opts.SlowQuery, repeatLimit: opts.RepeatLimit,
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("cannot reach PostgreSQL at %s: %w", cfg.ConnConfig.Host, err)
	}
	return pool, nil
}

// Pool returns the primary pool, for adapters that bring their own driver
// (River). Tenant data is reached only through InTx and ReadTx.
func (db *DB) Pool() *pgxpool.Pool { return db.primary }

// Close closes both pools.
func (db *DB) Close() {
	if db.replica != db.primary {
		db.replica.Close()
	}
	db.primary.Close()
}

// Ping checks the primary (used by /readyz).
func (db *DB) Ping(ctx context.Context) error {
	return db.primary.Ping(ctx)
}

// HasReplica reports whether a separate replica pool is configured.
func (db *DB) HasReplica() bool { return db.replica != db.primary }

// PoolStats returns the pools' statistics keyed by role, for metrics.
func (db *DB) PoolStats() map[string]*pgxpool.Stat {
	m := map[string]*pgxpool.Stat{rolePrimary: db.primary.Stat()}
	if db.HasReplica() {
		m[roleReplica] = db.replica.Stat()
	}
	return m
}
