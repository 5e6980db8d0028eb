package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/thermo/thermo/postgres"
)

// migrate runs on its own database: it migrates every tenant, and the
// shared one has other tests' tenants coming and going.
func TestMigrate(t *testing.T) {
	t.Parallel()
	dbURL := createDatabase(t)
	e := testEnv(t).with(envDatabaseURL, dbURL)
	ctx := context.Background()

	// Two tenants created by the CLI (already current) and one registered
	// without a schema (as after a crash before provisioning).
	for _, id := range []string{"c_alpha", "c_beta"} {
		if r := runThermo(t, e, "tenant", "create", id); r.code != 0 {
			t.Fatalf("tenant create %s: %q", id, r.stderr)
		}
	}
	c := connect(t, dbURL)
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "INSERT INTO public.tenants (id, name) VALUES ('c_gamma', 'Gamma')"); err != nil {
		t.Fatal(err)
	}

	r := runThermo(t, e, "migrate", "--parallel", "2")
	if r.code != 0 {
		t.Fatalf("migrate: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	latest := postgres.LatestTenantVersion()
	for _, want := range []string{
		"tenant c_alpha: up to date", "tenant c_beta: up to date", "tenant c_gamma: applied ",
		fmt.Sprintf("migrated 3 of 3 tenants to schema version %d", latest), "1 updated, 2 already current, 0 failed",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("migrate output does not contain %q:\n%s", want, r.stdout)
		}
	}
	if n := strings.Count(r.stdout, "\n"); n != 4 {
		t.Errorf("migrate printed %d lines, want one per tenant and a summary:\n%s", n, r.stdout)
	}
	wantVersions(t, dbURL, latest, "c_alpha", "c_beta", "c_gamma")

	// A tenant whose schema conflicts with the migrations fails; the others
	// are still migrated and the failure is listed.
	for _, sql := range []string{
		"INSERT INTO public.tenants (id, name) VALUES ('c_broken', 'Broken'), ('c_delta', 'Delta')",
		"CREATE SCHEMA tenant_c_broken",
		"CREATE TABLE tenant_c_broken.users (nothing int)",
	} {
		if _, err := c.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	r = runThermo(t, e, "migrate")
	if r.code != 1 {
		t.Errorf("migrate with a broken tenant: exit %d, want 1", r.code)
	}
	for _, want := range []string{"tenant c_broken: FAILED", "1 failed", "failed tenants:\n  c_broken: "} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("migrate output does not contain %q:\n%s", want, r.stdout)
		}
	}
	wantOneLineError(t, r, 1, "thermo migrate: 1 of 5 tenants failed")
	wantVersions(t, dbURL, latest, "c_alpha", "c_beta", "c_gamma", "c_delta")
}

// wantVersions checks each tenant's schema is at version.
func wantVersions(t *testing.T, dbURL string, version int64, ids ...string) {
	t.Helper()
	ctx := context.Background()
	db, err := postgres.Open(ctx, postgres.Opts{URL: dbURL})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, id := range ids {
		if v, err := db.TenantVersion(ctx, id); err != nil || v != version {
			t.Errorf("tenant %s at version %d (%v), want %d", id, v, err, version)
		}
	}
}

// On a terminal, progress is one line redrawn in place.
func TestMigrateProgressTerminal(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	p := &migrateProgress{w: &out, tty: true, start: time.Now()}
	p.report(postgres.MigrateProgress{Done: 1, Total: 2, Tenant: "building_a", Applied: 1})
	p.report(postgres.MigrateProgress{Done: 2, Total: 2, Tenant: "building_b", Err: pgx.ErrTxClosed, Failed: 1})
	p.summary()
	got := out.String()
	for _, want := range []string{
		"\r\x1b[Kmigrating tenants 1/2 (current: building_a, failed: 0)",
		"\r\x1b[Kmigrating tenants 2/2 (current: building_b, failed: 1)\n",
		"1 updated, 0 already current, 1 failed\nfailed tenants:\n  building_b: tx is closed\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output does not contain %q:\n%q", want, got)
		}
	}
	if strings.Count(got, "\n") != 4 {
		t.Errorf("progress printed extra lines: %q", got)
	}
}
