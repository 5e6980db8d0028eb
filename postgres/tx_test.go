package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/thermo/thermo"
	"github.com/thermo/thermo/postgres"
)

func countDevices(t *testing.T, db *postgres.DB, tenant string) int {
	t.Helper()
	var n int
	err := db.ReadTx(thermo.WithTenant(context.Background(), tenant), func(ctx context.Context) error {
		tx, _ := postgres.TxFromContext(ctx)
		return tx.QueryRow(ctx, "SELECT count(*) FROM devices").Scan(&n)
	})
	if err != nil {
		t.Fatalf("count devices: %v", err)
	}
	return n
}

func insertDevice(ctx context.Context, serial string) error {
	tx, _ := postgres.TxFromContext(ctx)
	_, err := tx.Exec(ctx, "INSERT INTO devices (serial_number, name) VALUES ($1, $1)", serial)
	return err
}

func TestInTx(t *testing.T) {
	t.Parallel()
	b := setup(t)

	t.Run("NestedJoinsAndCommits", func(t *testing.T) {
		t.Parallel()
		tenant := b.newTenant(t)
		ctx := thermo.WithTenant(context.Background(), tenant)
		err := b.db.InTx(ctx, func(ctx context.Context) error {
			outer, _ := postgres.TxFromContext(ctx)
			if err := insertDevice(ctx, "a"); err != nil {
				return err
			}
			return b.db.InTx(ctx, func(ctx context.Context) error {
				inner, _ := postgres.TxFromContext(ctx)
				if inner != outer {
					t.Error("nested InTx opened a new transaction")
				}
				return insertDevice(ctx, "b")
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		if n := countDevices(t, b.db, tenant); n != 2 {
			t.Fatalf("devices = %d, want 2", n)
		}
	})

	t.Run("NestedErrorRollsBackEverything", func(t *testing.T) {
		t.Parallel()
		tenant := b.newTenant(t)
		ctx := thermo.WithTenant(context.Background(), tenant)
		boom := errors.New("boom")
		err := b.db.InTx(ctx, func(ctx context.Context) error {
			if err := insertDevice(ctx, "a"); err != nil {
				return err
			}
			return b.db.InTx(ctx, func(ctx context.Context) error {
				if err := insertDevice(ctx, "b"); err != nil {
					return err
				}
				return boom
			})
		})
		if !errors.Is(err, boom) {
			t.Fatalf("err = %v, want boom", err)
		}
		if n := countDevices(t, b.db, tenant); n != 0 {
			t.Fatalf("devices = %d after rollback, want 0", n)
		}
	})

	t.Run("SwallowedNestedErrorStillRollsBack", func(t *testing.T) {
		t.Parallel()
		tenant := b.newTenant(t)
		ctx := thermo.WithTenant(context.Background(), tenant)
		err := b.db.InTx(ctx, func(ctx context.Context) error {
			if err := insertDevice(ctx, "a"); err != nil {
				return err
			}
			_ = b.db.InTx(ctx, func(ctx context.Context) error { return errors.New("ignored") })
			return nil
		})
		if !errors.Is(err, postgres.ErrRollbackOnly) {
			t.Fatalf("err = %v, want ErrRollbackOnly", err)
		}
		if n := countDevices(t, b.db, tenant); n != 0 {
			t.Fatalf("devices = %d, want 0", n)
		}
	})

	t.Run("NestedOtherTenantRefused", func(t *testing.T) {
		t.Parallel()
		a, other := b.newTenant(t), b.newTenant(t)
		ctx := thermo.WithTenant(context.Background(), a)
		err := b.db.InTx(ctx, func(ctx context.Context) error {
			return b.db.InTx(thermo.WithTenant(ctx, other), insertDevice2)
		})
		if err == nil || !strings.Contains(err.Error(), "nested transaction for tenant") {
			t.Fatalf("err = %v, want refusal", err)
		}
	})

	t.Run("NoTenantMeansNoTables", func(t *testing.T) {
		t.Parallel()
		b.newTenant(t)
		err := b.db.InTx(context.Background(), func(ctx context.Context) error {
			return insertDevice(ctx, "x")
		})
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "42P01" {
			t.Fatalf("err = %v, want undefined_table (no fallback to public)", err)
		}
	})

	t.Run("InvalidTenantNeverReachesSQL", func(t *testing.T) {
		t.Parallel()
		ctx := thermo.WithTenant(context.Background(), `a"; DROP SCHEMA public; --`)
		called := false
		err := b.db.InTx(ctx, func(ctx context.Context) error { called = true; return nil })
		if thermo.ErrorCode(err) != thermo.EINVALID || called {
			t.Fatalf("err = %v called = %v, want EINVALID and fn not called", err, called)
		}
	})
}

func insertDevice2(ctx context.Context) error { return insertDevice(ctx, "other") }

// TestInTxRetriesPlanChange makes a cached statement's result type change
// under it (as a migration can): the transaction is retried once and succeeds.
func TestInTxRetriesPlanChange(t *testing.T) {
	t.Parallel()
	b := setupWith(t, setupOpts{opts: postgres.Opts{MaxConns: 1}})
	tenant := b.newTenant(t)
	ctx := thermo.WithTenant(context.Background(), tenant)
	exec(t, b.db, tenant, "CREATE TABLE planned (a int)")
	exec(t, b.db, tenant, "INSERT INTO planned VALUES (1)")
	const q = "SELECT * FROM planned WHERE a = $1"
	read := func(ctx context.Context) error {
		tx, _ := postgres.TxFromContext(ctx)
		rows, err := tx.Query(ctx, q, 1)
		if err != nil {
			return err
		}
		rows.Close()
		return rows.Err()
	}
	if err := b.db.InTx(ctx, read); err != nil {
		t.Fatal(err)
	}
	exec(t, b.db, tenant, "ALTER TABLE planned ADD COLUMN b int")
	attempts := 0
	err := b.db.InTx(ctx, func(ctx context.Context) error { attempts++; return read(ctx) })
	if err != nil {
		t.Fatalf("err = %v", err)
	}
	if attempts != 2 {
		t.Fatalf("attempts = %d, want 2 (one 0A000 failure, one retry)", attempts)
	}
}

// TestTenantIsolationUnderConcurrency runs many goroutines over many tenants
// on shared pools: every one sees exactly its own rows.
func TestTenantIsolationUnderConcurrency(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const tenants, workers, perWorker = 6, 4, 10
	ids := make([]string, tenants)
	for i := range ids {
		ids[i] = b.newTenant(t)
	}
	var wg sync.WaitGroup
	errs := make(chan error, tenants*workers)
	for ti, id := range ids {
		for w := range workers {
			wg.Go(func() {
				ctx := thermo.WithTenant(context.Background(), id)
				for i := range perWorker {
					serial := fmt.Sprintf("%s-%d-%d", id, w, i)
					err := b.db.InTx(ctx, func(ctx context.Context) error { return insertDevice(ctx, serial) })
					if err != nil {
						errs <- err
						return
					}
					// Every row this tenant can read carries its own prefix.
					err = b.db.ReadTx(ctx, func(ctx context.Context) error {
						tx, _ := postgres.TxFromContext(ctx)
						var foreign int
						if err := tx.QueryRow(ctx, "SELECT count(*) FROM devices WHERE serial_number NOT LIKE $1", id+"-%").Scan(&foreign); err != nil {
							return err
						}
						if foreign != 0 {
							return fmt.Errorf("tenant %d sees %d foreign rows", ti, foreign)
						}
						return nil
					})
					if err != nil {
						errs <- err
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, id := range ids {
		if n := countDevices(t, b.db, id); n != workers*perWorker {
			t.Errorf("tenant %s has %d devices, want %d", id, n, workers*perWorker)
		}
	}
}

// TestReplicaRouting uses a second database as the "replica" so the two
// pools can be told apart by current_database().
func TestReplicaRouting(t *testing.T) {
	t.Parallel()
	replicaURL := createDatabase(t)
	b := setupWith(t, setupOpts{replicaURL: replicaURL})
	primaryDB := dbName(t, testDatabaseURL(t))
	replicaDB := dbName(t, replicaURL)
	current := func(ctx context.Context) string {
		tx, _ := postgres.TxFromContext(ctx)
		var name string
		if err := tx.QueryRow(ctx, "SELECT current_database()").Scan(&name); err != nil {
			t.Fatal(err)
		}
		return name
	}
	ctx := context.Background()
	var got string
	_ = b.db.ReadTx(ctx, func(ctx context.Context) error { got = current(ctx); return nil })
	if got != replicaDB {
		t.Errorf("ReadTx went to %s, want replica %s", got, replicaDB)
	}
	_ = b.db.ReadTx(postgres.WithPrimary(ctx), func(ctx context.Context) error { got = current(ctx); return nil })
	if got != primaryDB {
		t.Errorf("ReadTx(WithPrimary) went to %s, want primary %s", got, primaryDB)
	}
	_ = b.db.InTx(ctx, func(ctx context.Context) error {
		got = current(ctx)
		return b.db.ReadTx(ctx, func(ctx context.Context) error {
			if inner := current(ctx); inner != primaryDB {
				t.Errorf("read inside a write tx went to %s, want primary", inner)
			}
			return nil
		})
	})
	if got != primaryDB {
		t.Errorf("InTx went to %s, want primary %s", got, primaryDB)
	}
	logs := b.logs.String()
	if !strings.Contains(logs, `"db":"replica"`) || !strings.Contains(logs, `"db":"primary"`) {
		t.Errorf("query log does not name both pools:\n%s", logs)
	}
}

func dbName(t *testing.T, url string) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Database
}

// TestReadTxPlansEachRead: reads never use a generic cached plan (see
// beginQuery); writes keep PostgreSQL's default.
func TestReadTxPlansEachRead(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tenant := b.newTenant(t)
	ctx := thermo.WithTenant(context.Background(), tenant)
	mode := func(ctx context.Context) string {
		tx, _ := postgres.TxFromContext(ctx)
		var m string
		if err := tx.QueryRow(ctx, "SHOW plan_cache_mode").Scan(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	var read, write string
	_ = b.db.ReadTx(ctx, func(ctx context.Context) error { read = mode(ctx); return nil })
	_ = b.db.InTx(ctx, func(ctx context.Context) error { write = mode(ctx); return nil })
	if read != "force_custom_plan" || write != "auto" {
		t.Fatalf("plan_cache_mode: read %q, write %q", read, write)
	}
}
