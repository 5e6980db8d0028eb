package postgres_test

import (
	"context"
	"strings"
	"testing"

	"github.com/thermo/thermo"
	"github.com/thermo/thermo/postgres"
)

func TestTracer(t *testing.T) {
	t.Parallel()

	t.Run("SlowQueryLogsSQLNotParameters", func(t *testing.T) {
		t.Parallel()
		b := setupWith(t, setupOpts{opts: postgres.Opts{SlowQuery: 1}}) // 1ns: everything is slow
		err := b.db.ReadTx(context.Background(), func(ctx context.Context) error {
			tx, _ := postgres.TxFromContext(ctx)
			var s string
			return tx.QueryRow(ctx, "SELECT $1::text || 'x'", "secret-parameter").Scan(&s)
		})
		if err != nil {
			t.Fatal(err)
		}
		logs := b.logs.String()
		if !strings.Contains(logs, `"msg":"slow query"`) || !strings.Contains(logs, `SELECT $1::text || 'x'`) {
			t.Fatalf("no slow-query warning with the SQL:\n%s", logs)
		}
		if strings.Contains(logs, "secret-parameter") {
			t.Fatal("query log leaked a parameter value")
		}
	})

	t.Run("RepeatedStatementWarnsOnce", func(t *testing.T) {
		t.Parallel()
		b := setupWith(t, setupOpts{opts: postgres.Opts{RepeatLimit: 3}})
		tenant := b.newTenant(t)
		ctx, stats := thermo.WithQueryStats(thermo.WithRequestID(thermo.WithTenant(context.Background(), tenant), "req-n1"))
		for i := range 6 {
			// Each in its own transaction, as a naive per-item loop would.
			err := b.db.ReadTx(ctx, func(ctx context.Context) error {
				tx, _ := postgres.TxFromContext(ctx)
				var n int
				return tx.QueryRow(ctx, "SELECT count(*) FROM devices WHERE id = $1", i).Scan(&n)
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		logs := b.logs.String()
		if got := strings.Count(logs, "statement repeated in one request"); got != 1 {
			t.Fatalf("%d repeat warnings, want exactly 1:\n%s", got, logs)
		}
		if !strings.Contains(logs, `"request_id":"req-n1"`) {
			t.Fatal("repeat warning lacks the request id")
		}
		// 6 queries + begin (with search_path) and commit for each transaction.
		if got := stats.Total(); got != 6*3 {
			t.Fatalf("stats.Total() = %d, want %d", got, 6*3)
		}
	})
}
