package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/thermo/thermo"
)

// Ensure TenantService implements the interface.
var _ thermo.TenantService = (*TenantService)(nil)

// TenantService manages tenants in the control plane (public.tenants) and
// provisions their schemas.
type TenantService struct {
	db *DB
}

// NewTenantService returns a TenantService backed by db.
func NewTenantService(db *DB) *TenantService { return &TenantService{db: db} }

// CreateTenant registers t (defaults filled in) and migrates its schema to
// the latest version. Creating an existing tenant leaves it as it is and
// loads it into t.
func (s *TenantService) CreateTenant(ctx context.Context, t *thermo.Tenant) error {
	if err := t.Validate(); err != nil {
		return err
	}
	return s.provision(ctx, t)
}

// EnsureTenant provisions tenant id with default settings unless this
// process already knows it is current; then it costs nothing.
func (s *TenantService) EnsureTenant(ctx context.Context, id string) error {
	if _, ok := s.db.provisioned.Load(id); ok {
		return nil
	}
	return s.CreateTenant(ctx, &thermo.Tenant{ID: id})
}

// provision inserts the tenant row and migrates its schema while holding the
// tenant's advisory lock, so concurrent first requests (on any instance)
// provision once. The row commits only if the migration succeeded.
func (s *TenantService) provision(ctx context.Context, t *thermo.Tenant) error {
	err := s.db.withTenantLock(ctx, t.ID, func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `
			INSERT INTO public.tenants (id, name, time_zone, retention_days)
			VALUES ($1, $2, $3, $4)
			ON CONFLICT (id) DO NOTHING`,
			t.ID, t.Name, t.TimeZone, t.RetentionDays)
		if err != nil {
			return mapError(err, "")
		}
		if _, err := s.db.migrateSchema(ctx, SchemaName(t.ID)); err != nil {
			return fmt.Errorf("migrate schema of tenant %s: %w", t.ID, err)
		}
		return scanTenant(tx.QueryRow(ctx, selectTenant+" WHERE id = $1", t.ID), t)
	})
	if err != nil {
		return err
	}
	s.db.provisioned.Store(t.ID, true)
	return nil
}

// FindTenantByID returns the tenant or an ENOTFOUND error.
func (s *TenantService) FindTenantByID(ctx context.Context, id string) (*thermo.Tenant, error) {
	if err := thermo.ValidateTenantID(id); err != nil {
		return nil, err
	}
	var t thermo.Tenant
	err := scanTenant(s.db.primary.QueryRow(ctx, selectTenant+" WHERE id = $1", id), &t)
	if err != nil {
		return nil, mapError(err, fmt.Sprintf("Tenant %s not found.", id))
	}
	return &t, nil
}

// ListTenants returns all tenants ordered by id.
func (s *TenantService) ListTenants(ctx context.Context) ([]*thermo.Tenant, error) {
	rows, err := s.db.primary.Query(ctx, selectTenant+" ORDER BY id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*thermo.Tenant
	for rows.Next() {
		t := new(thermo.Tenant)
		if err := scanTenant(rows, t); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

const selectTenant = `SELECT id, name, time_zone, retention_days, created_at FROM public.tenants`

func scanTenant(row pgx.Row, t *thermo.Tenant) error {
	return row.Scan(&t.ID, &t.Name, &t.TimeZone, &t.RetentionDays, &t.CreatedAt)
}

// withTenantLock runs fn while holding the tenant's advisory lock.
func (db *DB) withTenantLock(ctx context.Context, id string, fn func(context.Context, pgx.Tx) error) error {
	if err := thermo.ValidateTenantID(id); err != nil {
		return err
	}
	return db.withAdvisoryLock(ctx, "thermo.tenant:"+id, fn)
}

// withAdvisoryLock runs fn in a control-plane transaction on the primary that
// holds the advisory transaction lock named key. The lock is released when
// the transaction ends, even if this process dies.
func (db *DB) withAdvisoryLock(ctx context.Context, key string, fn func(context.Context, pgx.Tx) error) error {
	ctx = thermo.WithTenant(ctx, "") // control plane: no tenant search_path
	return db.InTx(ctx, func(ctx context.Context) error {
		tx := conn(ctx)
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", key); err != nil {
			return fmt.Errorf("lock %s: %w", key, err)
		}
		return fn(ctx, tx)
	})
}
