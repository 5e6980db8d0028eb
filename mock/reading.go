package mock

import (
	"context"
	"time"

	"github.com/thermo/thermo"
)

var _ thermo.ReadingService = (*ReadingService)(nil)

// ReadingService is a fake thermo.ReadingService.
type ReadingService struct {
	IngestReadingFn      func(ctx context.Context, deviceID int64, r *thermo.Reading) (bool, error)
	IngestReadingsFn     func(ctx context.Context, deviceID int64, rs []thermo.Reading) (*thermo.IngestResult, error)
	FindLatestReadingFn  func(ctx context.Context, deviceID int64) (*thermo.Reading, error)
	FindLatestReadingsFn func(ctx context.Context) ([]*thermo.DeviceReading, error)
	FindReadingsFn       func(ctx context.Context, deviceID int64, f thermo.ReadingFilter) ([]*thermo.Reading, bool, error)
	FindHourlyReadingsFn func(ctx context.Context, deviceID int64, hours int) ([]*thermo.HourlyReadings, error)
	ExportReadingsFn     func(ctx context.Context, deviceID int64, f thermo.ReadingFilter, fn func(*thermo.Reading) error) error
	PurgeReadingsFn      func(ctx context.Context, cutoff time.Time, limit int) (int64, error)
}

func (s *ReadingService) IngestReading(ctx context.Context, deviceID int64, r *thermo.Reading) (bool, error) {
	return s.IngestReadingFn(ctx, deviceID, r)
}

func (s *ReadingService) IngestReadings(ctx context.Context, deviceID int64, rs []thermo.Reading) (*thermo.IngestResult, error) {
	return s.IngestReadingsFn(ctx, deviceID, rs)
}

func (s *ReadingService) FindLatestReading(ctx context.Context, deviceID int64) (*thermo.Reading, error) {
	return s.FindLatestReadingFn(ctx, deviceID)
}

func (s *ReadingService) FindLatestReadings(ctx context.Context) ([]*thermo.DeviceReading, error) {
	return s.FindLatestReadingsFn(ctx)
}

func (s *ReadingService) FindReadings(ctx context.Context, deviceID int64, f thermo.ReadingFilter) ([]*thermo.Reading, bool, error) {
	return s.FindReadingsFn(ctx, deviceID, f)
}

func (s *ReadingService) FindHourlyReadings(ctx context.Context, deviceID int64, hours int) ([]*thermo.HourlyReadings, error) {
	return s.FindHourlyReadingsFn(ctx, deviceID, hours)
}

func (s *ReadingService) ExportReadings(ctx context.Context, deviceID int64, f thermo.ReadingFilter, fn func(*thermo.Reading) error) error {
	return s.ExportReadingsFn(ctx, deviceID, f, fn)
}

func (s *ReadingService) PurgeReadings(ctx context.Context, cutoff time.Time, limit int) (int64, error) {
	return s.PurgeReadingsFn(ctx, cutoff, limit)
}
