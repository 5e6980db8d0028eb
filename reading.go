package thermo

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Reading is one measurement of a device. A device has at most one reading
// per RecordedAt: posting the same instant again is a duplicate, not a new
// reading.
type Reading struct {
	ID                 int64     `json:"id"`
	DeviceID           int64     `json:"deviceId"`
	TemperatureCelsius float64   `json:"temperatureCelsius"`
	Humidity           *float64  `json:"humidity" doc:"Relative humidity in percent; null if not measured."`
	BatteryLevel       *float64  `json:"batteryLevel" doc:"Battery charge from 0 to 1; null if unknown."`
	RecordedAt         time.Time `json:"recordedAt"`
	CreatedAt          time.Time `json:"createdAt"`
}

// Reading limits. The readings table has the same CHECK constraints.
const (
	MinTemperatureCelsius = -273.15
	MaxTemperatureCelsius = 1000
	// MaxClockSkew is how far in the future a reading may be recorded.
	MaxClockSkew = 5 * time.Minute
	// MaxBatchReadings bounds one batch ingestion.
	MaxBatchReadings = 10_000
	// maxFieldErrors bounds the field errors reported for one batch.
	maxFieldErrors = 1000
)

// Normalize rounds RecordedAt to what PostgreSQL stores (microseconds, UTC)
// so the instant a client sent and the one stored compare equal.
func (r *Reading) Normalize() {
	r.RecordedAt = r.RecordedAt.Truncate(time.Microsecond).UTC()
}

// Validate checks the measured fields of r against now; each problem is
// reported under prefix+field (prefix "readings[3]." in a batch).
func (r *Reading) Validate(now time.Time, prefix string) []FieldError {
	var errs []FieldError
	bad := func(field, reason string) {
		errs = append(errs, FieldError{Field: prefix + field, Reason: reason})
	}
	if !inRange(r.TemperatureCelsius, MinTemperatureCelsius, MaxTemperatureCelsius) {
		bad("temperatureCelsius", "must be a finite number from -273.15 to 1000")
	}
	if r.Humidity != nil && !inRange(*r.Humidity, 0, 100) {
		bad("humidity", "must be a finite number from 0 to 100")
	}
	if r.BatteryLevel != nil && !inRange(*r.BatteryLevel, 0, 1) {
		bad("batteryLevel", "must be a finite number from 0 to 1")
	}
	switch {
	case r.RecordedAt.IsZero():
		bad("recordedAt", "is required (RFC 3339)")
	case r.RecordedAt.After(now.Add(MaxClockSkew)):
		bad("recordedAt", "must not be more than 5 minutes in the future")
	}
	return errs
}

// inRange is false for NaN and infinities.
func inRange(v, lo, hi float64) bool {
	return !math.IsNaN(v) && v >= lo && v <= hi
}

// ValidateReadings normalizes and validates a batch. It reports every bad
// field of every reading (up to a bound) as readings[i].field, so a client
// can fix the batch in one round trip.
func ValidateReadings(rs []Reading, now time.Time) error {
	if len(rs) == 0 {
		return InvalidFields(FieldError{Field: "readings", Reason: "must contain at least one reading"})
	}
	if len(rs) > MaxBatchReadings {
		return Errorf(ETOOLARGE, "A batch holds at most %d readings, not %d.", MaxBatchReadings, len(rs))
	}
	var errs []FieldError
	for i := range rs {
		rs[i].Normalize()
		if bad := rs[i].Validate(now, ""); len(bad) > 0 { // the prefix only for the bad ones
			for j := range bad {
				bad[j].Field = "readings[" + strconv.Itoa(i) + "]." + bad[j].Field
			}
			errs = append(errs, bad...)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	e := InvalidFields(errs[:min(len(errs), maxFieldErrors)]...)
	e.Message = fmt.Sprintf("%d invalid fields; nothing was stored.", len(errs))
	if len(errs) > maxFieldErrors {
		e.Message += fmt.Sprintf(" The first %d are listed.", maxFieldErrors)
	}
	return e
}

// IngestResult tells what a batch ingestion stored.
type IngestResult struct {
	Received   int `json:"received"`
	Inserted   int `json:"inserted"`
	Duplicates int `json:"duplicates" doc:"Readings whose device already had one at that recordedAt, including repeats within the batch."`
}

// ReadingFilter selects readings of one device. Zero values mean "unset".
type ReadingFilter struct {
	From time.Time // inclusive
	To   time.Time // exclusive
	// MinTemp and MaxTemp bound temperatureCelsius, inclusive.
	MinTemp, MaxTemp *float64
	// Before is the history keyset cursor: only readings recorded strictly
	// earlier (history pages go newest first).
	Before time.Time
	// Limit is the history page size (DefaultPageLimit if 0, at most
	// MaxPageLimit). Exports ignore it.
	Limit int
}

// PageLimit returns the filter's page size with defaults applied.
func (f ReadingFilter) PageLimit() int { return pageLimit(f.Limit) }

// Validate checks the filter's ranges.
func (f ReadingFilter) Validate() error {
	var errs []FieldError
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		errs = append(errs, FieldError{Field: "to", Reason: "must be after from"})
	}
	if f.MinTemp != nil && f.MaxTemp != nil && *f.MinTemp > *f.MaxTemp {
		errs = append(errs, FieldError{Field: "maxTemp", Reason: "must not be below minTemp"})
	}
	if len(errs) > 0 {
		return InvalidFields(errs...)
	}
	return nil
}

// DeviceReading is a device with its latest reading (nil if it has none).
type DeviceReading struct {
	Device  *Device  `json:"device"`
	Reading *Reading `json:"reading"`
}

// HourlyReadings is the summary of one hour of a device's readings. Avg,
// Min and Max are nil for an hour without readings.
type HourlyReadings struct {
	Hour  time.Time `json:"hour" doc:"Start of the UTC hour."`
	Count int       `json:"count"`
	Avg   *float64  `json:"avg" doc:"Mean temperature in °C."`
	Min   *float64  `json:"min" doc:"Lowest temperature in °C."`
	Max   *float64  `json:"max" doc:"Highest temperature in °C."`
}

// MaxHourlyHours bounds the hourly breakdown (one week).
const MaxHourlyHours = 168

// ReadingService ingests and queries the readings of the tenant in ctx. A
// device id that does not exist in the tenant is ENOTFOUND everywhere.
type ReadingService interface {
	// IngestReading stores r for device deviceID unless the device already
	// has a reading at r.RecordedAt. It overwrites r with the stored reading
	// (the earlier one for a duplicate) and reports whether it was new. An
	// inactive device is ECONFLICT.
	IngestReading(ctx context.Context, deviceID int64, r *Reading) (created bool, err error)
	// IngestReadings validates every reading first and stores none if any
	// is invalid; otherwise it stores the new ones in one statement.
	IngestReadings(ctx context.Context, deviceID int64, rs []Reading) (*IngestResult, error)
	// FindLatestReading returns the device's newest reading.
	FindLatestReading(ctx context.Context, deviceID int64) (*Reading, error)
	// FindLatestReadings returns every device, sorted by name, with its
	// latest reading, in one query.
	FindLatestReadings(ctx context.Context) ([]*DeviceReading, error)
	// FindReadings returns one history page, newest first, and whether
	// older readings follow.
	FindReadings(ctx context.Context, deviceID int64, filter ReadingFilter) ([]*Reading, bool, error)
	// FindHourlyReadings summarizes the last hours (1 to MaxHourlyHours)
	// UTC hours, oldest first, the current hour included.
	FindHourlyReadings(ctx context.Context, deviceID int64, hours int) ([]*HourlyReadings, error)
	// ExportReadings calls fn for every matching reading, oldest first,
	// fetching them in bounded batches so memory stays flat at any size.
	// A device that does not exist fails before fn is first called.
	ExportReadings(ctx context.Context, deviceID int64, filter ReadingFilter, fn func(*Reading) error) error
	// PurgeReadings deletes at most limit readings recorded before cutoff
	// and returns how many; retention calls it until it returns 0.
	PurgeReadings(ctx context.Context, cutoff time.Time, limit int) (int64, error)
}
