// Package jobs runs Thermo's background work on River, a job queue that
// lives in PostgreSQL (schema "river"). A job inserted with Enqueue inside a
// postgres.InTx transaction commits or rolls back with that transaction's
// data. Every job carries the tenant and request id that caused it (Meta);
// workers see them in ctx, so their logs and queries are scoped like the
// request's.
package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/thermo/thermo"
	"github.com/thermo/thermo/postgres"
)

// Schema holds River's tables, apart from every tenant schema and public.
const Schema = "river"

// Meta is the request context a job carries. Embed it in job args as
// `Meta jobs.Meta `json:"meta"“ and fill it with MetaFromContext.
type Meta struct {
	Tenant    string `json:"tenant,omitempty"`
	RequestID string `json:"requestId,omitempty"`
}

// MetaFromContext captures ctx's tenant and request id for a job.
func MetaFromContext(ctx context.Context) Meta {
	return Meta{Tenant: thermo.TenantFromContext(ctx), RequestID: thermo.RequestIDFromContext(ctx)}
}

// Migrate creates the river schema and brings River's tables up to date.
// Concurrent callers (parallel tests, instances starting together) are
// serialized by an advisory lock.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	lock, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate river: %w", err)
	}
	defer lock.Release()
	const lockKey = 0x7269766572 // "river"
	if _, err := lock.Exec(ctx, "SELECT pg_advisory_lock($1)", lockKey); err != nil {
		return fmt.Errorf("migrate river: lock: %w", err)
	}
	defer func() { _, _ = lock.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", lockKey) }()
	if _, err := pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+Schema); err != nil {
		return fmt.Errorf("create schema %s: %w", Schema, err)
	}
	m, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Schema: Schema})
	if err != nil {
		return fmt.Errorf("river migrator: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("migrate river: %w", err)
	}
	return nil
}

// Opts configures a Client.
type Opts struct {
	Pool   *pgxpool.Pool
	Logger *slog.Logger
	// Workers, when set, makes the client work jobs (after Start) on Queues
	// (default: the default queue, 10 workers). Without it the client only
	// inserts.
	Workers      *river.Workers
	Queues       map[string]river.QueueConfig
	PeriodicJobs []*river.PeriodicJob
	// TestOnly shortens River's internal timers for tests.
	TestOnly bool
}

// Client inserts jobs and, if configured with workers, works them.
type Client struct {
	river *river.Client[pgx.Tx]
}

// New returns a Client; call Start to begin working jobs.
func New(opts Opts) (*Client, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	cfg := &river.Config{
		Schema:           Schema,
		Logger:           opts.Logger,
		WorkerMiddleware: []rivertype.WorkerMiddleware{&jobContext{}},
		PeriodicJobs:     opts.PeriodicJobs,
		TestOnly:         opts.TestOnly,
	}
	if opts.Workers != nil {
		cfg.Workers = opts.Workers
		cfg.Queues = opts.Queues
		if cfg.Queues == nil {
			cfg.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 10}}
		}
	}
	rc, err := river.NewClient(riverpgxv5.New(opts.Pool), cfg)
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	return &Client{river: rc}, nil
}

// River returns the underlying River client (for tests and admin tools).
func (c *Client) River() *river.Client[pgx.Tx] { return c.river }

// Start begins working jobs; it returns at once.
func (c *Client) Start(ctx context.Context) error { return c.river.Start(ctx) }

// Stop waits for running jobs to finish, up to ctx's deadline.
func (c *Client) Stop(ctx context.Context) error {
	err := c.river.Stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("jobs still running at shutdown deadline: %w", err)
	}
	return err
}

// Enqueue inserts a job. Inside a postgres transaction (ctx from InTx) the
// job is inserted in that transaction: it exists only if the transaction
// commits. It reports whether a job was inserted (false when a unique job
// already existed).
func (c *Client) Enqueue(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (bool, error) {
	var (
		res *rivertype.JobInsertResult
		err error
	)
	if tx, ok := postgres.TxFromContext(ctx); ok {
		res, err = c.river.InsertTx(ctx, tx, args, opts)
	} else {
		res, err = c.river.Insert(ctx, args, opts)
	}
	if err != nil {
		return false, fmt.Errorf("enqueue %s: %w", args.Kind(), err)
	}
	return !res.UniqueSkippedAsDuplicate, nil
}

// jobContext is River worker middleware: it puts the job id and the Meta of
// the job's args (tenant, request id) into the worker's ctx.
type jobContext struct {
	river.WorkerMiddlewareDefaults
}

func (*jobContext) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	var args struct {
		Meta Meta `json:"meta"`
	}
	_ = json.Unmarshal(job.EncodedArgs, &args) // args without meta carry none
	ctx = thermo.WithJobID(ctx, job.ID)
	if args.Meta.RequestID != "" {
		ctx = thermo.WithRequestID(ctx, args.Meta.RequestID)
	}
	if args.Meta.Tenant != "" {
		if err := thermo.ValidateTenantID(args.Meta.Tenant); err != nil {
			return river.JobCancel(fmt.Errorf("job %d: %w", job.ID, err))
		}
		ctx = thermo.WithTenant(ctx, args.Meta.Tenant)
	}
	return doInner(ctx)
}
