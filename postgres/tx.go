package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/thermo/thermo"
)

const (
	rolePrimary = "primary"
	roleReplica = "replica"
)

type (
	txKey      struct{}
	primaryKey struct{}
)

// txState is the transaction carried in ctx. Nested InTx calls join it.
type txState struct {
	tx     pgx.Tx
	tenant string // "" for control-plane transactions
	role   string
	// failed is set when a joined (nested) call returned an error: the outer
	// transaction then rolls back even if its caller swallowed that error.
	failed   bool
	readOnly bool
}

// ErrRollbackOnly is returned by InTx when a nested call failed but the outer
// function returned nil: the work is rolled back, never half-committed.
var ErrRollbackOnly = errors.New("transaction rolled back: a nested call failed")

// WithPrimary returns ctx whose reads go to the primary, for read-your-writes.
func WithPrimary(ctx context.Context) context.Context {
	return context.WithValue(ctx, primaryKey{}, true)
}

func wantsPrimary(ctx context.Context) bool {
	v, _ := ctx.Value(primaryKey{}).(bool)
	return v
}

func txFromContext(ctx context.Context) *txState {
	s, _ := ctx.Value(txKey{}).(*txState)
	return s
}

// InTx runs fn in a read-write transaction on the primary. The transaction
// travels in the ctx given to fn; repositories called with that ctx use it,
// and a nested InTx joins it. If the ctx carries a tenant, the transaction
// starts by setting search_path to that tenant's schema.
//
// A statement failing with SQLSTATE 0A000 (a cached plan whose result type
// changed, e.g. mid-migration) makes the whole transaction run once more.
func (db *DB) InTx(ctx context.Context, fn func(ctx context.Context) error) error {
	return db.run(ctx, pgx.TxOptions{}, rolePrimary, fn)
}

// ReadTx runs fn in a read-only transaction. Outside any transaction it uses
// the replica pool (the primary when there is none, or when ctx was made by
// WithPrimary); inside one it joins it.
func (db *DB) ReadTx(ctx context.Context, fn func(ctx context.Context) error) error {
	role := roleReplica
	if !db.HasReplica() || wantsPrimary(ctx) {
		role = rolePrimary
	}
	return db.run(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly}, role, fn)
}

func (db *DB) run(ctx context.Context, opts pgx.TxOptions, role string, fn func(context.Context) error) error {
	tenant := thermo.TenantFromContext(ctx)
	if outer := txFromContext(ctx); outer != nil {
		return joinTx(ctx, outer, tenant, opts, fn)
	}
	if tenant != "" {
		if err := thermo.ValidateTenantID(tenant); err != nil {
			return err
		}
	}
	err := db.runOnce(ctx, opts, role, tenant, fn)
	if isPlanChanged(err) {
		db.logger.WarnContext(ctx, "retrying transaction after cached plan change", "err", err)
		err = db.runOnce(ctx, opts, role, tenant, fn)
	}
	return err
}

func joinTx(ctx context.Context, outer *txState, tenant string, opts pgx.TxOptions, fn func(context.Context) error) error {
	if outer.tenant != tenant {
		return fmt.Errorf("nested transaction for tenant %q inside one for %q", tenant, outer.tenant)
	}
	if outer.readOnly && opts.AccessMode != pgx.ReadOnly {
		return errors.New("read-write transaction nested inside a read-only one")
	}
	if err := fn(ctx); err != nil {
		outer.failed = true
		return err
	}
	return nil
}

func (db *DB) runOnce(ctx context.Context, opts pgx.TxOptions, role, tenant string, fn func(context.Context) error) (err error) {
	pool := db.primary
	if role == roleReplica {
		pool = db.replica
	}
	opts.BeginQuery = beginQuery(opts.AccessMode == pgx.ReadOnly, tenant)
	tx, err := pool.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin transaction (db=%s): %w", role, err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	state := &txState{tx: tx, tenant: tenant, role: role, readOnly: opts.AccessMode == pgx.ReadOnly}
	if err := fn(context.WithValue(ctx, txKey{}, state)); err != nil {
		return err
	}
	if state.failed {
		return ErrRollbackOnly
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// beginQuery starts a transaction and sets its search_path in one round
// trip (several statements in one simple-protocol message). The schema name is
// built from a validated tenant id and quoted. Control-plane transactions get
// an empty search_path: unqualified names fail rather than resolve in public.
func beginQuery(readOnly bool, tenant string) string {
	begin := "BEGIN"
	if readOnly {
		begin = "BEGIN READ ONLY"
	}
	path := "''"
	if tenant != "" {
		path = pgx.Identifier{SchemaName(tenant)}.Sanitize()
	}
	q := begin + "; SET LOCAL search_path = " + path
	if readOnly {
		// Reads take optional filters as NULL-able parameters and LIMIT $n; a
		// generic cached plan cannot see either and may scan a device's whole
		// key range and sort it. Planning each read afresh costs microseconds.
		q += "; SET LOCAL plan_cache_mode = force_custom_plan"
	}
	return q
}

// conn returns the transaction in ctx. Service methods open one with InTx or
// ReadTx before they query, so a missing one is a programming error.
func conn(ctx context.Context) pgx.Tx {
	s := txFromContext(ctx)
	if s == nil {
		panic("postgres: query outside InTx/ReadTx")
	}
	return s.tx
}

// TxFromContext returns the transaction carried by ctx, if any. Adapters
// that must write in the caller's transaction (River's InsertTx) use it.
func TxFromContext(ctx context.Context) (pgx.Tx, bool) {
	s := txFromContext(ctx)
	if s == nil {
		return nil, false
	}
	return s.tx, true
}

// SchemaName returns the schema of tenant id. The id must be valid.
func SchemaName(id string) string { return "tenant_" + id }

func isPlanChanged(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "0A000"
}
