package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/thermo/thermo"
	"github.com/thermo/thermo/postgres/internal/pgdb"
)

// QueryPlan is the executed plan of one reading query.
type QueryPlan struct {
	Name string // what the query serves, e.g. "history (deep page)"
	SQL  string
	Plan string // EXPLAIN (ANALYZE, BUFFERS) output
}

// Explain runs EXPLAIN (ANALYZE, BUFFERS) on the reading queries the API
// issues for one device of tenant: latest, latest of every device, history
// (first page, a page deep in the past, with filters), hourly breakdown and
// an export batch. The statements are the services' own SQL text, so the
// plans show whether the primary key (device_id, recorded_at) serves them.
// It reads only; ANALYZE executes the SELECTs in a read-only transaction.
func (db *DB) Explain(ctx context.Context, tenant string, deviceID int64) ([]QueryPlan, error) {
	if err := thermo.ValidateTenantID(tenant); err != nil {
		return nil, err
	}
	ctx = thermo.WithTenant(ctx, tenant)
	var plans []QueryPlan
	err := db.ReadTx(ctx, func(ctx context.Context) error {
		if err := checkDeviceExists(ctx, deviceID); err != nil {
			return err
		}
		var oldest, newest *time.Time
		err := conn(ctx).QueryRow(ctx,
			"SELECT min(recorded_at), max(recorded_at) FROM readings WHERE device_id = $1", deviceID).Scan(&oldest, &newest)
		if err != nil {
			return fmt.Errorf("explain: device time range: %w", err)
		}
		if newest == nil {
			now := time.Now()
			oldest, newest = &now, &now
		}
		// A cursor a tenth of the way from the oldest reading: a page deep in
		// history, which keyset pagination should answer as fast as page 1.
		deep := oldest.Add(newest.Sub(*oldest) / 10)
		weekAgo, hot := newest.Add(-7*24*time.Hour), 30.0
		for _, q := range []struct {
			name, sql string
			args      []any
		}{
			{"latest", pgdb.Statements["FindLatestReading"], []any{deviceID}},
			{"latest of every device", latestReadingsSQL, nil},
			{"history (first page)", pgdb.Statements["FindReadings"], []any{deviceID, nil, nil, nil, nil, 51}},
			{"history (deep page)", pgdb.Statements["FindReadings"], []any{deviceID, deep, nil, nil, nil, 51}},
			{"history (last 7 days, >= 30 °C)", pgdb.Statements["FindReadings"], []any{deviceID, newest, weekAgo, hot, nil, 51}},
			{"hourly (24 h)", pgdb.Statements["FindHourlyReadings"], []any{24, deviceID}},
			{"export batch", pgdb.Statements["ExportReadings"], []any{deviceID, nil, nil, nil, nil, nil, exportMaxBatch}},
		} {
			plan, err := explainOne(ctx, q.sql, q.args)
			if err != nil {
				return fmt.Errorf("explain %s: %w", q.name, err)
			}
			plans = append(plans, QueryPlan{Name: q.name, SQL: strings.TrimSpace(q.sql), Plan: plan})
		}
		return nil
	})
	return plans, err
}

// explainOne returns the EXPLAIN output of sql. sqlc's statements start with
// a "-- name:" comment line, which the prefix leaves harmless.
func explainOne(ctx context.Context, sql string, args []any) (string, error) {
	rows, err := conn(ctx).Query(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+sql, args...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return "", err
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String(), rows.Err()
}
