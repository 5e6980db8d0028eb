package postgres_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/thermo/thermo"
	"github.com/thermo/thermo/postgres"
)

func TestTenantService(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()

	t.Run("CreateFindList", func(t *testing.T) {
		t.Parallel()
		id := uniqueID("t")
		t.Cleanup(func() { dropTenant(t, testDatabaseURL(t), id) })
		in := &thermo.Tenant{ID: id, Name: "Building A", TimeZone: "Europe/Berlin", RetentionDays: 30}
		if err := b.tenants.CreateTenant(ctx, in); err != nil {
			t.Fatal(err)
		}
		got, err := b.tenants.FindTenantByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "Building A" || got.TimeZone != "Europe/Berlin" || got.RetentionDays != 30 || got.CreatedAt.IsZero() {
			t.Fatalf("got %+v", got)
		}
		// Creating again is idempotent and keeps the stored settings.
		again := &thermo.Tenant{ID: id, Name: "Other"}
		if err := b.tenants.CreateTenant(ctx, again); err != nil {
			t.Fatal(err)
		}
		if again.Name != "Building A" {
			t.Fatalf("second create changed name to %q", again.Name)
		}
		list, err := b.tenants.ListTenants(ctx)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, tn := range list {
			found = found || tn.ID == id
		}
		if !found {
			t.Fatalf("ListTenants does not include %s", id)
		}
		if v, err := b.db.TenantVersion(ctx, id); err != nil || v != postgres.LatestTenantVersion() {
			t.Fatalf("version = %d, %v; want %d", v, err, postgres.LatestTenantVersion())
		}
	})

	t.Run("FindMissing", func(t *testing.T) {
		t.Parallel()
		_, err := b.tenants.FindTenantByID(ctx, uniqueID("missing"))
		if thermo.ErrorCode(err) != thermo.ENOTFOUND {
			t.Fatalf("err = %v, want not_found", err)
		}
	})

	t.Run("InvalidSettings", func(t *testing.T) {
		t.Parallel()
		for _, tn := range []*thermo.Tenant{
			{ID: uniqueID("t"), TimeZone: "Mars/Olympus"},
			{ID: uniqueID("t"), RetentionDays: -1},
		} {
			if err := b.tenants.CreateTenant(ctx, tn); thermo.ErrorCode(err) != thermo.EINVALID {
				t.Errorf("create %+v: err = %v, want invalid", tn, err)
			}
			assertNoTenant(t, b, tn.ID)
		}
	})

	t.Run("HostileIDsCreateNothing", func(t *testing.T) {
		t.Parallel()
		hostile := []string{
			`a'; DROP SCHEMA public CASCADE; --`, `x"y`, "a;b", "building_a ",
			"buіlding_a", // Cyrillic i
			"Building_a", "1abc", "a", strings.Repeat("a", 41), strings.Repeat("b", 64),
			"public", "pg_catalog", "river", "information_schema", "pg_toast",
		}
		for _, id := range hostile {
			err := b.tenants.EnsureTenant(ctx, id)
			if thermo.ErrorCode(err) != thermo.EINVALID {
				t.Errorf("EnsureTenant(%q): err = %v, want invalid", id, err)
			}
			assertNoTenant(t, b, id)
		}
	})

	t.Run("EnsureConcurrentlyProvisionsOnce", func(t *testing.T) {
		t.Parallel()
		id := uniqueID("t")
		t.Cleanup(func() { dropTenant(t, testDatabaseURL(t), id) })
		// Two services on separate pools stand for two server instances.
		other := setup(t)
		var wg sync.WaitGroup
		errs := make(chan error, 20)
		for i := range 20 {
			svc := b.tenants
			if i%2 == 1 {
				svc = other.tenants
			}
			wg.Go(func() { errs <- svc.EnsureTenant(ctx, id) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if v, err := b.db.TenantVersion(ctx, id); err != nil || v != postgres.LatestTenantVersion() {
			t.Fatalf("version = %d, %v", v, err)
		}
	})

	t.Run("EnsureIsFreeOnceKnown", func(t *testing.T) {
		t.Parallel()
		id := uniqueID("t")
		t.Cleanup(func() { dropTenant(t, testDatabaseURL(t), id) })
		first, stats1 := thermo.WithQueryStats(ctx)
		if err := b.tenants.EnsureTenant(first, id); err != nil {
			t.Fatal(err)
		}
		if stats1.Total() == 0 {
			t.Fatal("first EnsureTenant ran no query: the counter is not wired")
		}
		second, stats2 := thermo.WithQueryStats(ctx)
		if err := b.tenants.EnsureTenant(second, id); err != nil {
			t.Fatal(err)
		}
		if n := stats2.Total(); n != 0 {
			t.Fatalf("second EnsureTenant ran %d queries, want 0", n)
		}
	})
}

// assertNoTenant checks that neither a tenant row nor a schema exists for id.
func assertNoTenant(t *testing.T, b *bundle, id string) {
	t.Helper()
	var rows, schemas int
	err := b.db.ReadTx(context.Background(), func(ctx context.Context) error {
		tx, _ := postgres.TxFromContext(ctx)
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM public.tenants WHERE id = $1", id).Scan(&rows); err != nil {
			return err
		}
		return tx.QueryRow(ctx, "SELECT count(*) FROM pg_catalog.pg_namespace WHERE nspname = $1", "tenant_"+id).Scan(&schemas)
	})
	if err != nil {
		t.Fatal(err)
	}
	if rows != 0 || schemas != 0 {
		t.Errorf("tenant %q: %d rows, %d schemas exist, want none", id, rows, schemas)
	}
}
