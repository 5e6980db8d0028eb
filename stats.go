package thermo

import (
	"context"
	"time"
)

// DateLayout is how a calendar date is written in the API (ISO 8601).
const DateLayout = time.DateOnly

// MaxStatsDays bounds one daily statistics query.
const MaxStatsDays = 366

// WeekDays is the number of days the weekly summary covers.
const WeekDays = 7

// DailyStats summarizes one device's readings over one tenant-local day.
type DailyStats struct {
	DeviceID  int64     `json:"deviceId"`
	Date      string    `json:"date" format:"date" doc:"Tenant-local day (tenant time zone), YYYY-MM-DD."`
	Count     int       `json:"count"`
	Avg       float64   `json:"avg" doc:"Mean temperature in °C."`
	Min       float64   `json:"min" doc:"Lowest temperature in °C."`
	Max       float64   `json:"max" doc:"Highest temperature in °C."`
	UpdatedAt time.Time `json:"updatedAt" doc:"When these numbers last changed."`
}

// WeeklyStats summarizes a device's last WeekDays complete tenant-local days
// (yesterday and the six before). Avg, Min and Max are nil without data.
type WeeklyStats struct {
	DeviceID int64         `json:"deviceId"`
	From     string        `json:"from" format:"date"`
	To       string        `json:"to" format:"date" doc:"Last day included (yesterday, tenant-local)."`
	Count    int           `json:"count"`
	Avg      *float64      `json:"avg" doc:"Mean temperature in °C, weighted by readings."`
	Min      *float64      `json:"min"`
	Max      *float64      `json:"max"`
	Days     []*DailyStats `json:"days" doc:"Days with readings, oldest first."`
}

// Summarize fills Count, Avg, Min and Max from Days.
func (w *WeeklyStats) Summarize() {
	var sum float64
	w.Count, w.Avg, w.Min, w.Max = 0, nil, nil, nil
	for _, d := range w.Days {
		if w.Count == 0 || d.Min < *w.Min {
			w.Min = &d.Min
		}
		if w.Count == 0 || d.Max > *w.Max {
			w.Max = &d.Max
		}
		w.Count += d.Count
		sum += d.Avg * float64(d.Count)
	}
	if w.Count > 0 {
		avg := sum / float64(w.Count)
		w.Avg = &avg
	}
}

// AggregateResult tells what one aggregation stored.
type AggregateResult struct {
	// Devices is how many devices had readings that day.
	Devices int
	// Changed lists the devices whose statistics were written (new or
	// different numbers); a re-run over unchanged readings changes none.
	Changed []int64
}

// StatsService computes and serves the daily statistics of the tenant in
// ctx. Days are tenant-local calendar dates (time.Time at UTC midnight).
type StatsService interface {
	// AggregateDay computes avg/min/max/count of every device for day from
	// the running totals that ingestion keeps, in one statement, and
	// upserts them. It is idempotent, and two calls for the same tenant-day
	// never run at once. It clears the day's late marks.
	AggregateDay(ctx context.Context, day time.Time) (*AggregateResult, error)
	// AggregateDirty re-aggregates only the devices marked late for day.
	AggregateDirty(ctx context.Context, day time.Time) (*AggregateResult, error)
	// RescanDay is AggregateDay after rebuilding the day's running totals
	// from the stored readings: the repair path, which scans the day.
	RescanDay(ctx context.Context, day time.Time) (*AggregateResult, error)
	// DirtyDays lists the days that have late marks, oldest first.
	DirtyDays(ctx context.Context) ([]time.Time, error)
	// FindDailyStats returns the device's days from..to (inclusive).
	FindDailyStats(ctx context.Context, deviceID int64, from, to time.Time) ([]*DailyStats, error)
	// FindWeeklyStats summarizes the device's last WeekDays local days.
	FindWeeklyStats(ctx context.Context, deviceID int64) (*WeeklyStats, error)
}

// ParseDate parses a YYYY-MM-DD date as UTC midnight.
func ParseDate(s string) (time.Time, error) {
	return time.Parse(DateLayout, s)
}

// LocalDate returns the calendar date of t in loc, as UTC midnight.
func LocalDate(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// ValidateDateRange checks a from..to (inclusive) statistics range.
func ValidateDateRange(from, to time.Time) error {
	switch {
	case to.Before(from):
		return InvalidFields(FieldError{Field: "to", Reason: "must not be before from"})
	case to.Sub(from) >= MaxStatsDays*24*time.Hour:
		return InvalidFields(FieldError{Field: "to", Reason: "range must cover at most 366 days"})
	}
	return nil
}
