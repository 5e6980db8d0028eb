package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/thermo/thermo/postgres"
)

// TestMigrateAll migrates 200 tenant schemas in a database of its own,
// crashes the run part-way (cancelled context), resumes, and checks that every
// schema ends at the latest version and that a further run applies nothing.
func TestMigrateAll(t *testing.T) {
	t.Parallel()
	url := createDatabase(t)
	b := setupWith(t, setupOpts{url: url})
	ctx := context.Background()
	const n = 200
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("m_%03d", i)
	}
	// Tenants registered but never migrated, as after a restore of the
	// control plane or a crash right after registration.
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "INSERT INTO public.tenants (id, name) SELECT x, x FROM unnest($1::text[]) AS x", ids); err != nil {
		t.Fatal(err)
	}

	// First run dies after 50 tenants.
	crashCtx, crash := context.WithCancel(ctx)
	defer crash()
	err = b.db.MigrateAll(crashCtx, postgres.MigrateAllOpts{Parallel: 8, Progress: func(p postgres.MigrateProgress) {
		if p.Done == 50 {
			crash()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("crashed run: err = %v, want context.Canceled", err)
	}
	migrated := 0
	for _, id := range ids {
		if v, _ := b.db.TenantVersion(ctx, id); v == postgres.LatestTenantVersion() {
			migrated++
		}
	}
	if migrated < 50 || migrated == n {
		t.Fatalf("after crash %d/%d tenants migrated, want a partial run", migrated, n)
	}

	// Resume.
	var last postgres.MigrateProgress
	applied := 0
	err = b.db.MigrateAll(ctx, postgres.MigrateAllOpts{Parallel: 8, Progress: func(p postgres.MigrateProgress) {
		last = p
		applied += p.Applied
	}})
	if err != nil {
		t.Fatalf("resume: %v", err)
	}
	if last.Done != n || last.Total != n || last.Failed != 0 {
		t.Fatalf("resume progress = %+v", last)
	}
	if applied == 0 {
		t.Fatal("resume applied nothing, but the crash left tenants behind")
	}
	for _, id := range ids {
		if v, err := b.db.TenantVersion(ctx, id); err != nil || v != postgres.LatestTenantVersion() {
			t.Fatalf("tenant %s at version %d (%v), want %d", id, v, err, postgres.LatestTenantVersion())
		}
	}

	// Idempotent.
	applied = 0
	if err := b.db.MigrateAll(ctx, postgres.MigrateAllOpts{Parallel: 8, Progress: func(p postgres.MigrateProgress) { applied += p.Applied }}); err != nil {
		t.Fatal(err)
	}
	if applied != 0 {
		t.Fatalf("third run applied %d migrations, want 0", applied)
	}
}

// TestMigrateAllReportsFailures: a tenant whose schema is broken fails alone;
// the others still migrate and the error names the broken one.
func TestMigrateAllReportsFailures(t *testing.T) {
	t.Parallel()
	url := createDatabase(t)
	b := setupWith(t, setupOpts{url: url})
	ctx := context.Background()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	_, err = c.Exec(ctx, `
		INSERT INTO public.tenants (id, name) VALUES ('good_one', 'g'), ('broken_one', 'b');
		CREATE SCHEMA tenant_broken_one;
		CREATE TABLE tenant_broken_one.users (id int);`)
	if err != nil {
		t.Fatal(err)
	}
	err = b.db.MigrateAll(ctx, postgres.MigrateAllOpts{})
	if err == nil || !strings.Contains(err.Error(), "broken_one") {
		t.Fatalf("err = %v, want a failure naming broken_one", err)
	}
	if v, _ := b.db.TenantVersion(ctx, "good_one"); v != postgres.LatestTenantVersion() {
		t.Fatalf("good_one at version %d", v)
	}
}

// TestMigrateControlConcurrently: instances starting at once on an empty
// database all succeed.
func TestMigrateControlConcurrently(t *testing.T) {
	t.Parallel()
	url := createDatabase(t)
	b := setupWith(t, setupOpts{url: url}) // migrates once; drop it to start empty
	c, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	if _, err := c.Exec(context.Background(), "DROP TABLE public.tenants, public.thermo_control_version"); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 6)
	for range 6 {
		go func() { errs <- b.db.MigrateControl(context.Background()) }()
	}
	for range 6 {
		if err := <-errs; err != nil {
			t.Fatalf("concurrent MigrateControl: %v", err)
		}
	}
}
