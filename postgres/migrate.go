package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"
)

//go:embed migrations
var migrationsFS embed.FS

// Version tables: one for the control plane, one inside each tenant schema.
const (
	controlVersionTable = "public.thermo_control_version"
	tenantVersionTable  = "goose_db_version"
)

// MigrateControl brings the control plane (public.tenants) up to date.
// Concurrent callers (several instances starting at once) take turns.
func (db *DB) MigrateControl(ctx context.Context) error {
	err := db.withAdvisoryLock(ctx, "thermo.control", func(ctx context.Context, _ pgx.Tx) error {
		_, err := db.migrate(ctx, "migrations/control", controlVersionTable, "")
		return err
	})
	if err != nil {
		return fmt.Errorf("migrate control plane: %w", err)
	}
	return nil
}

// migrateSchema applies pending tenant migrations to schema, creating it if
// needed. Each migration commits with its version row, so a crash leaves the
// schema at the last applied version and a rerun resumes there. Callers hold
// the tenant's advisory lock.
func (db *DB) migrateSchema(ctx context.Context, schema string) (int, error) {
	return db.migrate(ctx, "migrations/tenant", schema+"."+tenantVersionTable, schema)
}

// migrate runs goose over one directory of migrations on a dedicated
// database/sql handle whose sessions have search_path set to schema.
func (db *DB) migrate(ctx context.Context, dir, versionTable, schema string) (int, error) {
	provider, sqlDB, err := db.provider(dir, versionTable, schema)
	if err != nil {
		return 0, err
	}
	defer sqlDB.Close()
	if schema != "" {
		// On the migration's own connection: the caller's transaction may hold
		// the only pooled one.
		if _, err := sqlDB.ExecContext(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize()); err != nil {
			return 0, fmt.Errorf("create schema %s: %w", schema, err)
		}
	}
	results, err := provider.Up(ctx)
	if err != nil {
		return len(results), err
	}
	return len(results), nil
}

func (db *DB) provider(dir, versionTable, schema string) (*goose.Provider, *sql.DB, error) {
	cfg := db.primaryConfig.Copy()
	cfg.Tracer = nil // migration statements are not request queries
	cfg.RuntimeParams["search_path"] = ""
	if schema != "" {
		cfg.RuntimeParams["search_path"] = pgx.Identifier{schema}.Sanitize()
	}
	sqlDB := stdlib.OpenDB(*cfg)
	sqlDB.SetMaxOpenConns(1)
	store, err := database.NewStore(database.DialectPostgres, versionTable)
	if err != nil {
		sqlDB.Close()
		return nil, nil, err
	}
	sub, err := fs.Sub(migrationsFS, dir)
	if err != nil {
		sqlDB.Close()
		return nil, nil, err
	}
	p, err := goose.NewProvider("", sqlDB, sub, goose.WithStore(store), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		sqlDB.Close()
		return nil, nil, fmt.Errorf("load migrations: %w", err)
	}
	return p, sqlDB, nil
}

// LatestTenantVersion returns the newest tenant migration version embedded
// in this binary.
func LatestTenantVersion() int64 {
	entries, _ := fs.ReadDir(migrationsFS, "migrations/tenant")
	var latest int64
	for _, e := range entries {
		var v int64
		if _, err := fmt.Sscanf(e.Name(), "%d_", &v); err == nil && v > latest {
			latest = v
		}
	}
	return latest
}

// TenantVersion returns the migration version of tenant id's schema (0 if
// the schema has never been migrated).
func (db *DB) TenantVersion(ctx context.Context, id string) (int64, error) {
	schema := SchemaName(id)
	var exists bool
	err := db.primary.QueryRow(ctx,
		"SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = $1 AND tablename = $2)",
		schema, tenantVersionTable).Scan(&exists)
	if err != nil || !exists {
		return 0, err
	}
	var v int64
	err = db.primary.QueryRow(ctx, fmt.Sprintf(
		"SELECT coalesce(max(version_id), 0) FROM %s WHERE is_applied",
		pgx.Identifier{schema, tenantVersionTable}.Sanitize())).Scan(&v)
	return v, err
}

// MigrateProgress reports the state of MigrateAll after each tenant.
type MigrateProgress struct {
	Done, Total int
	Tenant      string // the tenant just finished
	Applied     int    // migrations applied to it
	Err         error  // its failure, if any
	Failed      int    // failures so far
}

// MigrateAllOpts configures MigrateAll.
type MigrateAllOpts struct {
	// Parallel bounds how many schemas migrate at once (default 4).
	Parallel int
	// Progress, if set, is called after each tenant (from one goroutine at a
	// time).
	Progress func(MigrateProgress)
}

// MigrateAll migrates the control plane and then every tenant's schema with
// bounded parallelism. One tenant's failure does not stop the others; the
// returned error joins all failures. Rerunning is safe and resumes where a
// crashed run stopped.
func (db *DB) MigrateAll(ctx context.Context, opts MigrateAllOpts) error {
	if err := db.MigrateControl(ctx); err != nil {
		return err
	}
	ids, err := db.tenantIDs(ctx)
	if err != nil {
		return err
	}
	if opts.Parallel <= 0 {
		opts.Parallel = 4
	}
	var (
		mu   sync.Mutex
		errs []error
		prog = MigrateProgress{Total: len(ids)}
		work = make(chan string)
		wg   sync.WaitGroup
	)
	for range min(opts.Parallel, max(len(ids), 1)) {
		wg.Go(func() {
			for id := range work {
				n, err := db.MigrateTenant(ctx, id)
				mu.Lock()
				prog.Done++
				prog.Tenant, prog.Applied, prog.Err = id, n, err
				if err != nil {
					prog.Failed++
					errs = append(errs, fmt.Errorf("tenant %s: %w", id, err))
				}
				if opts.Progress != nil {
					opts.Progress(prog)
				}
				mu.Unlock()
			}
		})
	}
	for _, id := range ids {
		if ctx.Err() != nil {
			break
		}
		work <- id
	}
	close(work)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// MigrateTenant brings one tenant's schema up to date under the tenant's
// advisory lock and returns how many migrations it applied.
func (db *DB) MigrateTenant(ctx context.Context, id string) (int, error) {
	var applied int
	err := db.withTenantLock(ctx, id, func(ctx context.Context, _ pgx.Tx) error {
		var err error
		applied, err = db.migrateSchema(ctx, SchemaName(id))
		return err
	})
	return applied, err
}

func (db *DB) tenantIDs(ctx context.Context) ([]string, error) {
	rows, err := db.primary.Query(ctx, "SELECT id FROM public.tenants ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
