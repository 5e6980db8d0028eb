package postgres

import (
	"context"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/thermo/thermo"
)

// tracer is a pgx.QueryTracer that logs every statement at debug level with
// the pool it ran on (db=primary|replica), warns about slow statements and
// about one statement repeated more than repeatLimit times in one request
// (an N+1 pattern), and counts statements into the ctx's thermo.QueryStats.
// It logs SQL text, never the parameters.
type tracer struct {
	role        string
	logger      *slog.Logger
	slow        time.Duration
	repeatLimit int
}

type (
	traceKey   struct{}
	batchedKey struct{}
)

// withBatchedQueries marks ctx as running one statement per batch on
// purpose (a streamed export), exempting it from the repeat warning.
func withBatchedQueries(ctx context.Context) context.Context {
	return context.WithValue(ctx, batchedKey{}, true)
}

func batchedQueries(ctx context.Context) bool {
	v, _ := ctx.Value(batchedKey{}).(bool)
	return v
}

type traceStart struct {
	sql   string
	start time.Time
}

func (t *tracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	return context.WithValue(ctx, traceKey{}, traceStart{sql: data.SQL, start: time.Now()})
}

func (t *tracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	st, ok := ctx.Value(traceKey{}).(traceStart)
	if !ok {
		return
	}
	elapsed := time.Since(st.start)
	sql := compactSQL(st.sql)
	if stats := thermo.QueryStatsFromContext(ctx); stats != nil {
		limit := t.repeatLimit
		if isTxControl(st.sql) || batchedQueries(ctx) {
			limit = math.MaxInt // every transaction repeats these
		}
		if n, crossed := stats.Record(st.sql, limit); crossed {
			t.logger.WarnContext(ctx, "statement repeated in one request (N+1?)",
				"db", t.role, "count", n, "sql", sql)
		}
	}
	switch {
	case t.slow > 0 && elapsed >= t.slow:
		t.logger.WarnContext(ctx, "slow query", "db", t.role,
			"duration_ms", float64(elapsed.Microseconds())/1000, "sql", sql)
	case t.logger.Enabled(ctx, slog.LevelDebug):
		t.logger.DebugContext(ctx, "query", "db", t.role,
			"duration_ms", float64(elapsed.Microseconds())/1000, "sql", sql, "err", data.Err)
	}
}

// isTxControl reports whether sql is transaction plumbing rather than a
// query the code asked for.
func isTxControl(sql string) bool {
	switch strings.ToLower(strings.Fields(sql + " x")[0]) {
	case "begin", "commit", "rollback", "savepoint", "release":
		return true
	}
	return false
}

// compactSQL folds whitespace so multi-line statements log on one line.
func compactSQL(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
