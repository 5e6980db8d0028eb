package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/thermo/thermo"
	"github.com/thermo/thermo/internal/logbuf"
	"github.com/thermo/thermo/postgres"
)

// testDatabaseURL is where tests connect; `make test` sets it.
func testDatabaseURL(t testing.TB) string {
	t.Helper()
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// bundle is what most tests need: an open DB, its tenant service and a log
// buffer.
type bundle struct {
	db      *postgres.DB
	tenants *postgres.TenantService
	logs    *syncBuffer
}

type setupOpts struct {
	url        string
	replicaURL string
	opts       postgres.Opts
}

func setup(t *testing.T) *bundle {
	t.Helper()
	return setupWith(t, setupOpts{})
}

func setupWith(t *testing.T, so setupOpts) *bundle {
	t.Helper()
	ctx := context.Background()
	logs := &syncBuffer{}
	o := so.opts
	o.URL = so.url
	if o.URL == "" {
		o.URL = testDatabaseURL(t)
	}
	o.ReplicaURL = so.replicaURL
	o.Logger = slog.New(thermo.NewLogHandler(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	db, err := postgres.Open(ctx, o)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(db.Close)
	if err := db.MigrateControl(ctx); err != nil {
		t.Fatalf("migrate control: %v", err)
	}
	return &bundle{db: db, tenants: postgres.NewTenantService(db), logs: logs}
}

// newTenant provisions a tenant with a unique id and drops it after the test.
func (b *bundle) newTenant(t *testing.T) string {
	t.Helper()
	id := uniqueID("t")
	if err := b.tenants.CreateTenant(context.Background(), &thermo.Tenant{ID: id}); err != nil {
		t.Fatalf("create tenant: %v", err)
	}
	t.Cleanup(func() { dropTenant(t, testDatabaseURL(t), id) })
	return id
}

func uniqueID(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + "_" + hex.EncodeToString(b)
}

// dropTenant removes a tenant's schema and row over its own connection.
func dropTenant(t testing.TB, dbURL, id string) {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Errorf("cleanup connect: %v", err)
		return
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{postgres.SchemaName(id)}.Sanitize()+" CASCADE"); err != nil {
		t.Errorf("cleanup drop schema: %v", err)
	}
	if _, err := c.Exec(ctx, "DELETE FROM public.tenants WHERE id = $1", id); err != nil {
		t.Errorf("cleanup delete tenant: %v", err)
	}
}

// createDatabase makes a fresh database for tests that need the whole
// control plane to themselves, and returns its URL.
func createDatabase(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	base := testDatabaseURL(t)
	name := uniqueID("thermo_test")
	c, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("cleanup connect: %v", err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database: %v", err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse url: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// syncBuffer is a bytes.Buffer safe for concurrent log writers.
type syncBuffer = logbuf.Buffer

// exec runs sql in a transaction scoped to tenant.
func exec(t *testing.T, db *postgres.DB, tenant, sql string, args ...any) {
	t.Helper()
	ctx := thermo.WithTenant(context.Background(), tenant)
	err := db.InTx(ctx, func(ctx context.Context) error {
		tx, _ := postgres.TxFromContext(ctx)
		_, err := tx.Exec(ctx, sql, args...)
		return err
	})
	if err != nil {
		t.Fatalf("exec %q: %v", sql, err)
	}
}
