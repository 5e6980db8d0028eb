package mock

import (
	"context"
	"time"

	"github.com/thermo/thermo"
)

var _ thermo.StatsService = (*StatsService)(nil)

// StatsService is a fake thermo.StatsService.
type StatsService struct {
	AggregateDayFn    func(ctx context.Context, day time.Time) (*thermo.AggregateResult, error)
	AggregateDirtyFn  func(ctx context.Context, day time.Time) (*thermo.AggregateResult, error)
	RescanDayFn       func(ctx context.Context, day time.Time) (*thermo.AggregateResult, error)
	DirtyDaysFn       func(ctx context.Context) ([]time.Time, error)
	FindDailyStatsFn  func(ctx context.Context, deviceID int64, from, to time.Time) ([]*thermo.DailyStats, error)
	FindWeeklyStatsFn func(ctx context.Context, deviceID int64) (*thermo.WeeklyStats, error)
}

func (s *StatsService) AggregateDay(ctx context.Context, day time.Time) (*thermo.AggregateResult, error) {
	return s.AggregateDayFn(ctx, day)
}

func (s *StatsService) AggregateDirty(ctx context.Context, day time.Time) (*thermo.AggregateResult, error) {
	return s.AggregateDirtyFn(ctx, day)
}

func (s *StatsService) RescanDay(ctx context.Context, day time.Time) (*thermo.AggregateResult, error) {
	return s.RescanDayFn(ctx, day)
}

func (s *StatsService) DirtyDays(ctx context.Context) ([]time.Time, error) {
	return s.DirtyDaysFn(ctx)
}

func (s *StatsService) FindDailyStats(ctx context.Context, deviceID int64, from, to time.Time) ([]*thermo.DailyStats, error) {
	return s.FindDailyStatsFn(ctx, deviceID, from, to)
}

func (s *StatsService) FindWeeklyStats(ctx context.Context, deviceID int64) (*thermo.WeeklyStats, error) {
	return s.FindWeeklyStatsFn(ctx, deviceID)
}
