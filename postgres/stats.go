package postgres

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/thermo/thermo"
)

var _ thermo.StatsService = (*StatsService)(nil)

// StatsService computes daily statistics from the running totals that
// ingestion keeps (daily_totals), one statement per tenant-day, and serves
// them from the daily_stats table.
type StatsService struct {
	db *DB
	// Now is the clock (time.Now if nil); tests move it.
	Now func() time.Time
}

// NewStatsService returns a StatsService backed by db.
func NewStatsService(db *DB) *StatsService { return &StatsService{db: db} }

func (s *StatsService) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// finalizeSQL turns the day's running totals (daily_totals, kept by every
// ingest statement, see totalsSQL) into the day's statistics: one row read
// per device, no reading scanned. $2 (NULL = every device) restricts a
// late-reading pass to the marked devices. The upsert on (device_id, date)
// makes a re-run idempotent; rows whose numbers did not change are not
// touched, so a re-run writes nothing and invalidates no cache.
const finalizeSQL = `
INSERT INTO daily_stats AS s (device_id, date, reading_count, avg_celsius, min_celsius, max_celsius)
SELECT t.device_id, t.date, t.reading_count::integer, t.sum_celsius / t.reading_count, t.min_celsius, t.max_celsius
FROM daily_totals t
WHERE t.date = $1::date AND ($2::bigint[] IS NULL OR t.device_id = ANY($2::bigint[]))
ORDER BY t.device_id
ON CONFLICT (device_id, date) DO UPDATE
SET reading_count = EXCLUDED.reading_count, avg_celsius = EXCLUDED.avg_celsius,
    min_celsius = EXCLUDED.min_celsius, max_celsius = EXCLUDED.max_celsius, updated_at = now()
WHERE (s.reading_count, s.avg_celsius, s.min_celsius, s.max_celsius)
      IS DISTINCT FROM (EXCLUDED.reading_count, EXCLUDED.avg_celsius, EXCLUDED.min_celsius, EXCLUDED.max_celsius)
RETURNING device_id`

// rescanSQL rebuilds the day's totals from the readings. The day's bounds
// are computed by PostgreSQL from the tenant's zone: local midnight of $1
// to local midnight of $1+1, so a DST day spans 23 or 25 hours. For each
// device a LATERAL subquery walks the primary key (device_id, recorded_at)
// over that range. Totals of devices without readings that day are
// removed afterwards (rescanDeleteSQL).
const rescanSQL = `
WITH bounds AS (
    SELECT ($1::date)::timestamp AT TIME ZONE $2::text AS start_at,
           ($1::date + 1)::timestamp AT TIME ZONE $2::text AS end_at
)
INSERT INTO daily_totals AS t (device_id, date, reading_count, sum_celsius, min_celsius, max_celsius)
SELECT d.id, $1::date, a.n, a.sum, a.min, a.max
FROM devices d
CROSS JOIN bounds b
CROSS JOIN LATERAL (
    SELECT count(*) AS n, sum(r.temperature_celsius) AS sum,
           min(r.temperature_celsius) AS min, max(r.temperature_celsius) AS max
    FROM readings r
    WHERE r.device_id = d.id AND r.recorded_at >= b.start_at AND r.recorded_at < b.end_at
) a
WHERE a.n > 0
ORDER BY d.id
ON CONFLICT (device_id, date) DO UPDATE
SET reading_count = EXCLUDED.reading_count, sum_celsius = EXCLUDED.sum_celsius,
    min_celsius = EXCLUDED.min_celsius, max_celsius = EXCLUDED.max_celsius
RETURNING device_id`

const rescanDeleteSQL = `DELETE FROM daily_totals WHERE date = $1::date AND NOT (device_id = ANY(coalesce($2::bigint[], '{}')))`

// rescanLatestSQL rebuilds every device's latest reading from the readings
// (one backward primary-key probe per device), and drops the rows of
// devices that have none left.
const rescanLatestSQL = `
WITH fresh AS (
    INSERT INTO latest_readings AS l (device_id, reading_id, recorded_at, created_at, temperature_celsius, humidity, battery_level)
    SELECT r.device_id, r.id, r.recorded_at, r.created_at, r.temperature_celsius, r.humidity, r.battery_level
    FROM devices d
    CROSS JOIN LATERAL (
        SELECT * FROM readings WHERE readings.device_id = d.id ORDER BY recorded_at DESC LIMIT 1
    ) r
    ORDER BY r.device_id
    ON CONFLICT (device_id) DO UPDATE
    SET reading_id = EXCLUDED.reading_id, recorded_at = EXCLUDED.recorded_at, created_at = EXCLUDED.created_at,
        temperature_celsius = EXCLUDED.temperature_celsius, humidity = EXCLUDED.humidity,
        battery_level = EXCLUDED.battery_level
    RETURNING device_id
)
DELETE FROM latest_readings WHERE device_id NOT IN (SELECT device_id FROM fresh)`

// countDaySQL counts the devices with readings on the day (for the report).
const countDaySQL = `SELECT count(*) FROM daily_stats WHERE date = $1::date`

// AggregateDay computes every device's statistics of day from its running
// totals.
func (s *StatsService) AggregateDay(ctx context.Context, day time.Time) (*thermo.AggregateResult, error) {
	return s.aggregate(ctx, day, aggregateAll)
}

// AggregateDirty recomputes the devices marked late for day.
func (s *StatsService) AggregateDirty(ctx context.Context, day time.Time) (*thermo.AggregateResult, error) {
	return s.aggregate(ctx, day, aggregateDirty)
}

// RescanDay rebuilds day's running totals (and every device's latest
// reading) from the readings, then computes its statistics. While it runs, ingestion of the tenant waits
// (the totals table is locked against writes), so no reading is counted
// twice or missed; it costs a scan of the day's readings.
func (s *StatsService) RescanDay(ctx context.Context, day time.Time) (*thermo.AggregateResult, error) {
	return s.aggregate(ctx, day, aggregateRescan)
}

// aggregateMode says which devices a pass computes and from what.
type aggregateMode int

const (
	aggregateAll    aggregateMode = iota // every device, from the totals
	aggregateDirty                       // the late-marked devices, from the totals
	aggregateRescan                      // every device, totals rebuilt from readings
)

// aggregate runs in one transaction: an advisory lock on the tenant-day (so
// a nightly job, a late-reading job and `thermo aggregate` never compute it
// at once), then the late marks are taken, then the upsert. Marks added
// after the DELETE's snapshot survive for the next pass.
func (s *StatsService) aggregate(ctx context.Context, day time.Time, mode aggregateMode) (*thermo.AggregateResult, error) {
	tenant := thermo.TenantFromContext(ctx)
	res := &thermo.AggregateResult{Changed: []int64{}}
	err := s.db.InTx(ctx, func(ctx context.Context) error {
		if _, err := s.db.location(ctx); err != nil {
			return err // the tenant does not exist: say so
		}
		tx := conn(ctx)
		lockKey := "thermo:stats:" + tenant + ":" + day.Format(thermo.DateLayout)
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", lockKey); err != nil {
			return fmt.Errorf("lock tenant-day: %w", err)
		}
		rows, err := tx.Query(ctx, "DELETE FROM stats_dirty WHERE date = $1::date RETURNING device_id", day)
		if err != nil {
			return fmt.Errorf("take late marks: %w", err)
		}
		marked, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return fmt.Errorf("take late marks: %w", err)
		}
		var devices []int64 // nil: every device
		switch mode {
		case aggregateDirty:
			if len(marked) == 0 {
				return nil
			}
			devices = marked
		case aggregateRescan:
			if err := s.rescan(ctx, day); err != nil {
				return err
			}
		}
		rows, err = tx.Query(ctx, finalizeSQL, day, devices)
		if err != nil {
			return fmt.Errorf("aggregate: %w", err)
		}
		if res.Changed, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
			return fmt.Errorf("aggregate: %w", err)
		}
		return tx.QueryRow(ctx, countDaySQL, day).Scan(&res.Devices)
	})
	if err != nil {
		return nil, fmt.Errorf("aggregate %s: %w", day.Format(thermo.DateLayout), err)
	}
	return res, nil
}

// rescan rebuilds day's totals and the latest readings from the readings
// in ctx's transaction.
// SHARE ROW EXCLUSIVE conflicts with the ROW EXCLUSIVE lock every ingest
// statement takes on daily_totals: ingests in flight finish first, new
// ones wait until commit, and the scan (whose snapshot is taken after the
// lock) sees exactly the committed readings.
func (s *StatsService) rescan(ctx context.Context, day time.Time) error {
	loc, err := s.db.location(ctx)
	if err != nil {
		return err
	}
	tx := conn(ctx)
	if _, err := tx.Exec(ctx, "LOCK TABLE daily_totals IN SHARE ROW EXCLUSIVE MODE"); err != nil {
		return fmt.Errorf("lock daily totals: %w", err)
	}
	rows, err := tx.Query(ctx, rescanSQL, day, loc.String())
	if err != nil {
		return fmt.Errorf("rescan readings: %w", err)
	}
	seen, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("rescan readings: %w", err)
	}
	if _, err := tx.Exec(ctx, rescanDeleteSQL, day, seen); err != nil {
		return fmt.Errorf("rescan readings: %w", err)
	}
	if _, err := tx.Exec(ctx, rescanLatestSQL); err != nil {
		return fmt.Errorf("rescan latest readings: %w", err)
	}
	return nil
}

// DirtyDays lists the days with late marks (the primary key leads with date).
func (s *StatsService) DirtyDays(ctx context.Context) ([]time.Time, error) {
	var days []time.Time
	err := s.db.InTx(ctx, func(ctx context.Context) error {
		rows, err := conn(ctx).Query(ctx, "SELECT DISTINCT date FROM stats_dirty ORDER BY date")
		if err != nil {
			return err
		}
		days, err = pgx.CollectRows(rows, pgx.RowTo[time.Time])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("find late days: %w", err)
	}
	return days, nil
}

// MarkLateReadings is a ReadingService.AfterIngest hook: readings recorded
// before today (tenant-local) mark their device-day for re-aggregation.
// Batches of today's readings cost nothing; a late batch costs one INSERT.
func (s *StatsService) MarkLateReadings(ctx context.Context, deviceID int64, inserted []*thermo.Reading) error {
	loc, err := s.db.location(ctx)
	if err != nil {
		return err
	}
	today := thermo.LocalDate(s.now(), loc)
	var days []time.Time
	for _, r := range inserted { // oldest first: stop at the first of today
		d := thermo.LocalDate(r.RecordedAt, loc)
		if !d.Before(today) {
			break
		}
		if len(days) == 0 || !days[len(days)-1].Equal(d) {
			days = append(days, d)
		}
	}
	if len(days) == 0 {
		return nil
	}
	_, err = conn(ctx).Exec(ctx, `INSERT INTO stats_dirty (device_id, date)
SELECT $1, unnest($2::date[]) ON CONFLICT DO NOTHING`, deviceID, days)
	if err != nil {
		return fmt.Errorf("mark late readings: %w", err)
	}
	return nil
}

const findDailyStatsSQL = `
SELECT device_id, date, reading_count, avg_celsius, min_celsius, max_celsius, updated_at
FROM daily_stats WHERE device_id = $1 AND date BETWEEN $2::date AND $3::date ORDER BY date`

// FindDailyStats returns the device's stored days from..to, oldest first.
func (s *StatsService) FindDailyStats(ctx context.Context, deviceID int64, from, to time.Time) ([]*thermo.DailyStats, error) {
	if err := thermo.ValidateDateRange(from, to); err != nil {
		return nil, err
	}
	var out []*thermo.DailyStats
	err := s.db.ReadTx(ctx, func(ctx context.Context) error {
		var err error
		out, err = findDailyStats(ctx, deviceID, from, to)
		return err
	})
	return out, err
}

// FindWeeklyStats summarizes yesterday and the six days before it.
func (s *StatsService) FindWeeklyStats(ctx context.Context, deviceID int64) (*thermo.WeeklyStats, error) {
	var w *thermo.WeeklyStats
	err := s.db.ReadTx(ctx, func(ctx context.Context) error {
		loc, err := s.db.location(ctx)
		if err != nil {
			return err
		}
		to := thermo.LocalDate(s.now(), loc).AddDate(0, 0, -1)
		from := to.AddDate(0, 0, 1-thermo.WeekDays)
		days, err := findDailyStats(ctx, deviceID, from, to)
		if err != nil {
			return err
		}
		w = &thermo.WeeklyStats{DeviceID: deviceID, From: from.Format(thermo.DateLayout),
			To: to.Format(thermo.DateLayout), Days: days}
		w.Summarize()
		return nil
	})
	return w, err
}

func findDailyStats(ctx context.Context, deviceID int64, from, to time.Time) ([]*thermo.DailyStats, error) {
	if err := checkDeviceExists(ctx, deviceID); err != nil {
		return nil, err
	}
	rows, err := conn(ctx).Query(ctx, findDailyStatsSQL, deviceID, from, to)
	if err != nil {
		return nil, fmt.Errorf("find daily stats: %w", err)
	}
	out := []*thermo.DailyStats{}
	var date time.Time
	for rows.Next() {
		d := &thermo.DailyStats{}
		if err := rows.Scan(&d.DeviceID, &date, &d.Count, &d.Avg, &d.Min, &d.Max, &d.UpdatedAt); err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan daily stats: %w", err)
		}
		d.Date, d.UpdatedAt = date.Format(thermo.DateLayout), d.UpdatedAt.UTC()
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find daily stats: %w", err)
	}
	return slices.Clip(out), nil
}
