package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/thermo/thermo"
	"github.com/thermo/thermo/postgres/internal/pgdb"
)

// devicesStateSQL checks every device of a group in one statement.
const devicesStateSQL = `SELECT id, is_active FROM devices WHERE id = ANY($1::int8[])`

// insertGroupSQL is insertReadingsSQL with one device id per row.
const insertGroupSQL = `
INSERT INTO readings (device_id, recorded_at, temperature_celsius, humidity, battery_level)
SELECT t.device_id, t.recorded_at, t.temperature_celsius, t.humidity, t.battery_level
FROM unnest($1::int8[], $2::timestamptz[], $3::float8[], $4::float8[], $5::float8[])
     AS t(device_id, recorded_at, temperature_celsius, humidity, battery_level)
ON CONFLICT (device_id, recorded_at) DO NOTHING
RETURNING id, device_id, recorded_at, created_at, temperature_celsius, humidity, battery_level`

// findGroupDuplicatesSQL fetches the stored readings of a group's
// duplicates in one statement (primary-key probes).
const findGroupDuplicatesSQL = `
SELECT r.id, r.device_id, r.recorded_at, r.created_at, r.temperature_celsius, r.humidity, r.battery_level
FROM unnest($1::int8[], $2::timestamptz[]) AS k(device_id, recorded_at)
JOIN readings r ON r.device_id = k.device_id AND r.recorded_at = k.recorded_at`

// ingestGroup stores a group's readings in ctx's transaction and fills each
// member's res. A member whose device is missing or inactive gets its own
// error; an error returned fails the whole group.
func (s *ReadingService) ingestGroup(ctx context.Context, group []*groupMember) error {
	ok, err := checkGroupDevices(ctx, group)
	if err != nil || len(ok) == 0 {
		return err
	}
	// Sorted by (device, recorded_at), first arrival first among equals:
	// every group inserts keys in the same order, and the first of two
	// equal readings wins, as in a batch.
	slices.SortStableFunc(ok, func(a, b *groupMember) int {
		return cmp.Or(cmp.Compare(a.deviceID, b.deviceID), a.reading.RecordedAt.Compare(b.reading.RecordedAt))
	})
	inserted, err := insertGroup(ctx, ok)
	if err != nil {
		return err
	}
	var dups []*groupMember
	news := map[int64]*deviceNews{}
	for _, m := range ok {
		k := keyOf(m.deviceID, m.reading.RecordedAt)
		if r, found := inserted[k]; found {
			delete(inserted, k) // a later equal member is a duplicate
			m.res = memberResult{reading: *r, created: true}
			n := news[m.deviceID]
			if n == nil {
				n = &deviceNews{first: m}
				news[m.deviceID] = n
			}
			n.readings = append(n.readings, r)
			continue
		}
		dups = append(dups, m)
	}
	if err := s.runGroupHooks(ctx, news); err != nil {
		return err
	}
	return findGroupDuplicates(ctx, dups)
}

// checkGroupDevices answers members whose device is missing (ENOTFOUND)
// or inactive (ECONFLICT) and returns the others.
func checkGroupDevices(ctx context.Context, group []*groupMember) ([]*groupMember, error) {
	ids := make([]int64, 0, len(group))
	for _, m := range group {
		ids = append(ids, m.deviceID)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	rows, err := conn(ctx).Query(ctx, devicesStateSQL, ids)
	if err != nil {
		return nil, fmt.Errorf("check devices: %w", err)
	}
	active := make(map[int64]bool, len(ids))
	var (
		id int64
		on bool
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &on}, func() error { active[id] = on; return nil })
	if err != nil {
		return nil, fmt.Errorf("check devices: %w", err)
	}
	ok := make([]*groupMember, 0, len(group))
	for _, m := range group {
		on, exists := active[m.deviceID]
		switch {
		case !exists:
			m.res = memberResult{err: thermo.Errorf(thermo.ENOTFOUND, "%s", deviceNotFound(m.deviceID))}
		case !on:
			m.res = memberResult{err: thermo.Errorf(thermo.ECONFLICT, "Device %d is inactive: reactivate it to post readings.", m.deviceID)}
		default:
			ok = append(ok, m)
		}
	}
	return ok, nil
}

// insertGroup inserts the members' readings in one statement and returns
// the new rows by key.
func insertGroup(ctx context.Context, ms []*groupMember) (map[readingKey]*thermo.Reading, error) {
	var (
		dev      = make([]int64, len(ms))
		at       = make([]time.Time, len(ms))
		temp     = make([]float64, len(ms))
		humidity = make([]*float64, len(ms))
		battery  = make([]*float64, len(ms))
	)
	for i, m := range ms {
		r := &m.reading
		dev[i], at[i], temp[i], humidity[i], battery[i] = m.deviceID, r.RecordedAt, r.TemperatureCelsius, r.Humidity, r.BatteryLevel
	}
	rows, err := conn(ctx).Query(ctx, insertGroupSQL, dev, at, temp, humidity, battery)
	if err != nil {
		return nil, fmt.Errorf("insert readings: %w", mapError(err, ""))
	}
	return collectReadings(rows, len(ms))
}

// deviceNews is one device's new readings in a group (oldest first) and
// the member holding the first of them.
type deviceNews struct {
	readings []*thermo.Reading
	first    *groupMember
}

// runGroupHooks runs AfterIngest per device in ascending device id, so
// concurrent groups and batches lock devices' alert rules in one order.
// A device's hooks run with the request id and principal of the caller of
// its first new reading (so an alert's notification job and its logs
// point to a request that carried it) and their own event collector; the
// events go to that caller after commit.
func (s *ReadingService) runGroupHooks(ctx context.Context, news map[int64]*deviceNews) error {
	if len(s.AfterIngest) == 0 {
		return nil
	}
	ids := make([]int64, 0, len(news))
	for id := range news {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	ctx, err := s.prepare(ctx, ids)
	if err != nil {
		return err
	}
	for _, id := range ids {
		n := news[id]
		hctx, col := thermo.WithEventCollector(memberScope(ctx, n.first.ctx))
		for _, hook := range s.AfterIngest {
			if err := hook(hctx, id, n.readings); err != nil {
				return fmt.Errorf("after ingest (device %d): %w", id, err)
			}
		}
		n.first.res.events = col.Events()
	}
	return nil
}

// memberScope returns the group's ctx with a caller's request id and
// principal (for logs and the jobs the hooks enqueue).
func memberScope(ctx, caller context.Context) context.Context {
	if id := thermo.RequestIDFromContext(caller); id != "" {
		ctx = thermo.WithRequestID(ctx, id)
	}
	if p, ok := thermo.PrincipalFromContext(caller); ok {
		ctx = thermo.WithPrincipal(ctx, p)
	}
	return ctx
}

// findGroupDuplicates answers duplicate members with the stored readings.
func findGroupDuplicates(ctx context.Context, dups []*groupMember) error {
	if len(dups) == 0 {
		return nil
	}
	dev := make([]int64, len(dups))
	at := make([]time.Time, len(dups))
	for i, m := range dups {
		dev[i], at[i] = m.deviceID, m.reading.RecordedAt
	}
	rows, err := conn(ctx).Query(ctx, findGroupDuplicatesSQL, dev, at)
	if err != nil {
		return fmt.Errorf("find duplicate readings: %w", err)
	}
	stored, err := collectReadings(rows, len(dups))
	if err != nil {
		return fmt.Errorf("find duplicate readings: %w", err)
	}
	for _, m := range dups {
		k := keyOf(m.deviceID, m.reading.RecordedAt)
		r, found := stored[k]
		if !found { // purged meanwhile: not expected in practice
			m.res = memberResult{err: fmt.Errorf("find duplicate reading (%s): %w", k, pgx.ErrNoRows)}
			continue
		}
		m.res = memberResult{reading: *r}
	}
	return nil
}

// collectReadings scans reading rows into a map by key.
func collectReadings(rows pgx.Rows, capacity int) (map[readingKey]*thermo.Reading, error) {
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[pgdb.Reading])
	if err != nil {
		return nil, mapError(err, "")
	}
	out := make(map[readingKey]*thermo.Reading, capacity)
	for _, row := range list {
		r := readingFromRow(row)
		out[keyOf(r.DeviceID, r.RecordedAt)] = r
	}
	return out, nil
}
