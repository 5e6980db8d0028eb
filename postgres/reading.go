package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/thermo/thermo"
	"github.com/thermo/thermo/postgres/internal/pgdb"
)

var _ thermo.ReadingService = (*ReadingService)(nil)

// Export batch sizes: the first batch is small so the first bytes leave
// quickly, then batches double up to the cap, which bounds memory.
const (
	exportFirstBatch = 1000
	exportMaxBatch   = 16384
)

// ReadingService stores and queries readings in the tenant's readings table.
type ReadingService struct {
	db *DB

	// AfterIngest hooks run in order inside the ingestion transaction with
	// the readings that were newly stored (duplicates excluded, oldest
	// first), before commit. An error rolls the whole ingestion back. They
	// are the seam for work that must commit or fail with the readings
	// (alert evaluation, marking late days for re-aggregation). Set them
	// before the service is used.
	AfterIngest []IngestHook

	// PrepareIngest hooks run once per ingestion transaction, before the
	// AfterIngest hooks, with the ids (ascending) of every device that got
	// new readings; the ctx they return is the one the AfterIngest hooks
	// see. They let a hook do per-device work for a whole group in one
	// statement (AlertService.LockRules). Set them before use.
	PrepareIngest []PrepareHook

	// group merges concurrent IngestReading calls (ingest_group.go).
	group *groupCommitter
}

// IngestHook is work done in the ingestion transaction on new readings.
type IngestHook func(ctx context.Context, deviceID int64, inserted []*thermo.Reading) error

// PrepareHook is done once per ingestion transaction for all devices with
// new readings; it returns the ctx for the AfterIngest hooks.
type PrepareHook func(ctx context.Context, deviceIDs []int64) (context.Context, error)

// prepare runs the PrepareIngest hooks.
func (s *ReadingService) prepare(ctx context.Context, deviceIDs []int64) (context.Context, error) {
	for _, hook := range s.PrepareIngest {
		var err error
		if ctx, err = hook(ctx, deviceIDs); err != nil {
			return nil, fmt.Errorf("prepare ingest: %w", err)
		}
	}
	return ctx, nil
}

// NewReadingService returns a ReadingService backed by db.
func NewReadingService(db *DB) *ReadingService {
	s := &ReadingService{db: db}
	s.group = newGroupCommitter(s)
	return s
}

// IngestReading stores one reading; a duplicate returns the stored one.
// Concurrent calls of one tenant share a transaction (group commit, see
// ingest_group.go); it returns only after that transaction committed.
func (s *ReadingService) IngestReading(ctx context.Context, deviceID int64, r *thermo.Reading) (bool, error) {
	r.Normalize()
	if errs := r.Validate(time.Now(), ""); len(errs) > 0 {
		return false, thermo.InvalidFields(errs...)
	}
	return s.ingestInGroup(ctx, deviceID, r)
}

// ingestAlone stores one validated reading in its own transaction (or the
// caller's): the path taken inside a transaction and when a group failed.
func (s *ReadingService) ingestAlone(ctx context.Context, deviceID int64, r *thermo.Reading) (bool, error) {
	var created bool
	err := s.db.InTx(ctx, func(ctx context.Context) error {
		inserted, err := s.ingest(ctx, deviceID, []thermo.Reading{*r})
		if err != nil {
			return err
		}
		if created = len(inserted) == 1; created {
			*r = *inserted[0]
			return nil
		}
		row, err := queries(ctx).FindReadingAt(ctx, pgdb.FindReadingAtParams{DeviceID: deviceID, RecordedAt: r.RecordedAt})
		if err != nil {
			return fmt.Errorf("find duplicate reading: %w", err)
		}
		*r = *readingFromRow(row)
		return nil
	})
	return created, err
}

// IngestReadings validates the whole batch, then stores its new readings in
// one statement. Nothing is stored if any reading is invalid.
func (s *ReadingService) IngestReadings(ctx context.Context, deviceID int64, rs []thermo.Reading) (*thermo.IngestResult, error) {
	if err := thermo.ValidateReadings(rs, time.Now()); err != nil {
		return nil, err
	}
	res := &thermo.IngestResult{Received: len(rs)}
	err := s.db.InTx(ctx, func(ctx context.Context) error {
		inserted, err := s.ingest(ctx, deviceID, rs)
		res.Inserted = len(inserted)
		return err
	})
	if err != nil {
		return nil, err
	}
	res.Duplicates = res.Received - res.Inserted
	return res, nil
}

// ingest checks the device, inserts rs and runs AfterIngest, all in ctx's
// transaction, and returns the readings that were new.
func (s *ReadingService) ingest(ctx context.Context, deviceID int64, rs []thermo.Reading) ([]*thermo.Reading, error) {
	active, err := queries(ctx).DeviceIsActive(ctx, deviceID)
	if err != nil {
		return nil, mapError(err, deviceNotFound(deviceID))
	} else if !active {
		return nil, thermo.Errorf(thermo.ECONFLICT, "Device %d is inactive: reactivate it to post readings.", deviceID)
	}
	inserted, err := insertReadings(ctx, deviceID, rs)
	if err != nil {
		return nil, err
	}
	if len(inserted) > 0 {
		slices.SortFunc(inserted, func(a, b *thermo.Reading) int { return a.RecordedAt.Compare(b.RecordedAt) })
		ctx, err := s.prepare(ctx, []int64{deviceID})
		if err != nil {
			return nil, err
		}
		for _, hook := range s.AfterIngest {
			if err := hook(ctx, deviceID, inserted); err != nil {
				return nil, fmt.Errorf("after ingest: %w", err)
			}
		}
	}
	return inserted, nil
}

// insertReadingsSQL inserts a whole batch in one statement: one array per
// column, unnested into rows. Hand-written because sqlc maps float8[] to
// []float64, which cannot carry the NULLs of absent humidity/battery.
// ON CONFLICT DO NOTHING skips readings the device already has, and repeats
// within the batch (the first one wins); RETURNING lists only new rows,
// and only what the database chose (id, created_at) and the key: the rest
// is what was posted. The insert trigger of migration 6 adds the new rows
// to the daily totals and the latest readings in the same statement.
const insertReadingsSQL = `
INSERT INTO readings (device_id, recorded_at, temperature_celsius, humidity, battery_level)
SELECT $1, t.recorded_at, t.temperature_celsius, t.humidity, t.battery_level
FROM unnest($2::timestamptz[], $3::float8[], $4::float8[], $5::float8[])
     AS t(recorded_at, temperature_celsius, humidity, battery_level)
ON CONFLICT (device_id, recorded_at) DO NOTHING
RETURNING id, recorded_at, created_at`

func insertReadings(ctx context.Context, deviceID int64, rs []thermo.Reading) ([]*thermo.Reading, error) {
	var (
		at       = make([]time.Time, len(rs))
		temp     = make([]float64, len(rs))
		humidity = make([]*float64, len(rs))
		battery  = make([]*float64, len(rs))
	)
	for i, r := range rs {
		at[i], temp[i], humidity[i], battery[i] = r.RecordedAt, r.TemperatureCelsius, r.Humidity, r.BatteryLevel
	}
	rows, err := conn(ctx).Query(ctx, insertReadingsSQL, deviceID, at, temp, humidity, battery)
	if err != nil {
		return nil, fmt.Errorf("insert readings: %w", mapError(err, ""))
	}
	// A stored row holds the values of the first reading posted for its
	// instant (a repeat in the batch lost to it).
	first := make(map[int64]int, len(rs))
	for i := range rs {
		if k := rs[i].RecordedAt.UnixMicro(); first[k] == 0 {
			first[k] = i + 1
		}
	}
	out := make([]*thermo.Reading, 0, len(rs))
	var (
		id          int64
		stored, now time.Time
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &stored, &now}, func() error {
		i := first[stored.UnixMicro()] - 1
		if i < 0 {
			return fmt.Errorf("stored reading at %s was not posted", stored)
		}
		r := rs[i]
		r.ID, r.DeviceID, r.RecordedAt, r.CreatedAt = id, deviceID, stored.UTC(), now.UTC()
		out = append(out, &r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("insert readings: %w", mapError(err, ""))
	}
	return out, nil
}

// FindLatestReading returns the device's newest reading.
func (s *ReadingService) FindLatestReading(ctx context.Context, deviceID int64) (*thermo.Reading, error) {
	var r *thermo.Reading
	err := s.db.ReadTx(ctx, func(ctx context.Context) error {
		row, err := queries(ctx).FindLatestReading(ctx, deviceID)
		if errors.Is(err, pgx.ErrNoRows) {
			if err := checkDeviceExists(ctx, deviceID); err != nil {
				return err
			}
			return thermo.Errorf(thermo.ENOTFOUND, "Device %d has no readings yet.", deviceID)
		} else if err != nil {
			return fmt.Errorf("find latest reading: %w", err)
		}
		r = readingFromRow(row)
		return nil
	})
	return r, err
}

// latestReadingsSQL is the dashboard query: every device with its latest
// reading, from latest_readings (kept by the insert trigger of migration
// 6): one row per device, joined by hash, instead of a primary-key probe
// of readings per device. Hand-written: a device without
// readings yields NULLs.
const latestReadingsSQL = `
SELECT d.id, d.serial_number, d.name, d.location, d.owner_id, d.is_active, d.created_at, d.updated_at,
       l.reading_id, l.device_id, l.recorded_at, l.created_at, l.temperature_celsius, l.humidity, l.battery_level
FROM devices d
LEFT JOIN latest_readings l ON l.device_id = d.id
ORDER BY d.name, d.id`

// FindLatestReadings returns every device with its latest reading.
func (s *ReadingService) FindLatestReadings(ctx context.Context) ([]*thermo.DeviceReading, error) {
	out := []*thermo.DeviceReading{}
	err := s.db.ReadTx(ctx, func(ctx context.Context) error {
		rows, err := conn(ctx).Query(ctx, latestReadingsSQL)
		if err != nil {
			return fmt.Errorf("find latest readings: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			dr, err := scanDeviceReading(rows)
			if err != nil {
				return fmt.Errorf("scan latest readings: %w", err)
			}
			out = append(out, dr)
		}
		return rows.Err()
	})
	return out, err
}

func scanDeviceReading(row pgx.Row) (*thermo.DeviceReading, error) {
	var (
		d                  pgdb.Device
		id, deviceID       *int64
		recorded, created  *time.Time
		temp, hum, battery *float64
	)
	err := row.Scan(&d.ID, &d.SerialNumber, &d.Name, &d.Location, &d.OwnerID, &d.IsActive, &d.CreatedAt, &d.UpdatedAt,
		&id, &deviceID, &recorded, &created, &temp, &hum, &battery)
	if err != nil {
		return nil, err
	}
	dr := &thermo.DeviceReading{Device: deviceFromRow(d)}
	if id != nil {
		dr.Reading = readingFromRow(pgdb.Reading{
			ID: *id, DeviceID: *deviceID, RecordedAt: *recorded, CreatedAt: *created,
			TemperatureCelsius: *temp, Humidity: hum, BatteryLevel: battery,
		})
	}
	return dr, nil
}

// FindReadings returns one history page, newest first. It fetches one row
// more than the page to learn whether older readings follow.
func (s *ReadingService) FindReadings(ctx context.Context, deviceID int64, f thermo.ReadingFilter) ([]*thermo.Reading, bool, error) {
	if err := f.Validate(); err != nil {
		return nil, false, err
	}
	limit := f.PageLimit()
	out := make([]*thermo.Reading, 0, limit)
	err := s.db.ReadTx(ctx, func(ctx context.Context) error {
		rows, err := queries(ctx).FindReadings(ctx, pgdb.FindReadingsParams{
			DeviceID: deviceID,
			Before:   earliest(f.Before, f.To),
			Since:    timePtr(f.From),
			MinTemp:  f.MinTemp, MaxTemp: f.MaxTemp,
			RowLimit: int32(limit + 1),
		})
		if err != nil {
			return fmt.Errorf("find readings: %w", err)
		}
		if len(rows) == 0 {
			return checkDeviceExists(ctx, deviceID)
		}
		for _, row := range rows {
			out = append(out, readingFromRow(row))
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	more := len(out) > limit
	return out[:min(len(out), limit)], more, nil
}

// FindHourlyReadings summarizes the device's last hours UTC hours.
func (s *ReadingService) FindHourlyReadings(ctx context.Context, deviceID int64, hours int) ([]*thermo.HourlyReadings, error) {
	if hours < 1 || hours > thermo.MaxHourlyHours {
		return nil, thermo.InvalidFields(thermo.FieldError{Field: "hours", Reason: "must be from 1 to 168"})
	}
	out := make([]*thermo.HourlyReadings, 0, hours)
	err := s.db.ReadTx(ctx, func(ctx context.Context) error {
		if err := checkDeviceExists(ctx, deviceID); err != nil {
			return err
		}
		rows, err := queries(ctx).FindHourlyReadings(ctx, pgdb.FindHourlyReadingsParams{DeviceID: deviceID, Hours: int32(hours)})
		if err != nil {
			return fmt.Errorf("find hourly readings: %w", err)
		}
		for _, row := range rows {
			out = append(out, &thermo.HourlyReadings{
				Hour: row.Hour.UTC(), Count: int(row.Count),
				Avg: row.AvgCelsius, Min: row.MinCelsius, Max: row.MaxCelsius,
			})
		}
		return nil
	})
	return out, err
}

// ExportReadings walks the matching readings oldest first in keyset
// batches. Each batch is its own short read transaction and fn runs between
// them, so a slow client holds neither a pooled connection nor a snapshot,
// and memory holds one batch at most.
func (s *ReadingService) ExportReadings(ctx context.Context, deviceID int64, f thermo.ReadingFilter, fn func(*thermo.Reading) error) error {
	if err := f.Validate(); err != nil {
		return err
	}
	params := pgdb.ExportReadingsParams{
		DeviceID: deviceID, Since: timePtr(f.From), Until: timePtr(f.To),
		MinTemp: f.MinTemp, MaxTemp: f.MaxTemp, RowLimit: exportFirstBatch,
	}
	ctx = withBatchedQueries(ctx) // one statement per batch is by design, not N+1
	for first := true; ; first = false {
		var batch []pgdb.Reading
		err := s.db.ReadTx(ctx, func(ctx context.Context) error {
			if first {
				if err := checkDeviceExists(ctx, deviceID); err != nil {
					return err
				}
			}
			var err error
			batch, err = queries(ctx).ExportReadings(ctx, params)
			return err
		})
		if err != nil {
			return fmt.Errorf("export readings: %w", err)
		}
		for _, row := range batch {
			if err := fn(readingFromRow(row)); err != nil {
				return err
			}
		}
		if len(batch) < int(params.RowLimit) {
			return nil
		}
		params.After = &batch[len(batch)-1].RecordedAt
		params.RowLimit = min(2*params.RowLimit, exportMaxBatch)
	}
}

// PurgeReadings deletes at most limit readings recorded before cutoff.
func (s *ReadingService) PurgeReadings(ctx context.Context, cutoff time.Time, limit int) (int64, error) {
	if limit < 1 {
		return 0, thermo.Errorf(thermo.EINVALID, "purge limit must be positive")
	}
	var n int64
	err := s.db.InTx(ctx, func(ctx context.Context) error {
		var err error
		n, err = queries(ctx).PurgeReadings(ctx, pgdb.PurgeReadingsParams{Before: cutoff, Batch: int32(min(limit, math.MaxInt32))})
		if err != nil {
			return err
		}
		// A device silent since before cutoff loses its latest reading too.
		_, err = conn(ctx).Exec(ctx, "DELETE FROM latest_readings WHERE recorded_at < $1", cutoff)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("purge readings: %w", err)
	}
	return n, nil
}

// checkDeviceExists distinguishes "no such device" (ENOTFOUND) from a
// device that simply has no matching readings.
func checkDeviceExists(ctx context.Context, id int64) error {
	if _, err := queries(ctx).DeviceIsActive(ctx, id); err != nil {
		return mapError(err, deviceNotFound(id))
	}
	return nil
}

// earliest returns the earlier of two optional (zero = unset) instants.
func earliest(a, b time.Time) *time.Time {
	switch {
	case a.IsZero():
		return timePtr(b)
	case b.IsZero() || a.Before(b):
		return &a
	}
	return &b
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func readingFromRow(r pgdb.Reading) *thermo.Reading {
	return &thermo.Reading{
		ID: r.ID, DeviceID: r.DeviceID, TemperatureCelsius: r.TemperatureCelsius,
		Humidity: r.Humidity, BatteryLevel: r.BatteryLevel,
		RecordedAt: r.RecordedAt.UTC(), CreatedAt: r.CreatedAt.UTC(),
	}
}
