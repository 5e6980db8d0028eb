package jobs_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/thermo/thermo"
	"github.com/thermo/thermo/jobs"
	"github.com/thermo/thermo/postgres"
)

func testDatabaseURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// openDB opens the test database with the control plane and River migrated.
func openDB(t *testing.T) *postgres.DB {
	t.Helper()
	ctx := context.Background()
	db, err := postgres.Open(ctx, postgres.Opts{URL: testDatabaseURL()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if err := db.MigrateControl(ctx); err != nil {
		t.Fatal(err)
	}
	if err := jobs.Migrate(ctx, db.Pool()); err != nil {
		t.Fatal(err)
	}
	return db
}

// randomSuffix returns 10 hex digits for unique tenant and queue names.
func randomSuffix() string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// createTenant provisions tn and drops it, and the jobs of queue (if any),
// after the test.
func createTenant(t *testing.T, db *postgres.DB, tn *thermo.Tenant, queue string) {
	t.Helper()
	ctx := context.Background()
	if err := postgres.NewTenantService(db).CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = db.Pool().Exec(ctx, "DROP SCHEMA "+pgx.Identifier{postgres.SchemaName(tn.ID)}.Sanitize()+" CASCADE")
		_, _ = db.Pool().Exec(ctx, "DELETE FROM public.tenants WHERE id = $1", tn.ID)
		if queue != "" {
			_, _ = db.Pool().Exec(ctx, "DELETE FROM river.river_job WHERE queue = $1", queue)
		}
	})
}
