package mock

import (
	"context"

	"github.com/thermo/thermo"
)

var _ thermo.DeviceService = (*DeviceService)(nil)

// DeviceService is a fake thermo.DeviceService.
type DeviceService struct {
	CreateDeviceFn     func(ctx context.Context, d *thermo.Device) error
	FindDeviceByIDFn   func(ctx context.Context, id int64) (*thermo.Device, error)
	FindDevicesFn      func(ctx context.Context, f thermo.DeviceFilter) ([]*thermo.Device, int, error)
	UpdateDeviceFn     func(ctx context.Context, id int64, upd thermo.DeviceUpdate) (*thermo.Device, error)
	DeactivateDeviceFn func(ctx context.Context, id int64) (*thermo.Device, error)
}

func (s *DeviceService) CreateDevice(ctx context.Context, d *thermo.Device) error {
	return s.CreateDeviceFn(ctx, d)
}

func (s *DeviceService) FindDeviceByID(ctx context.Context, id int64) (*thermo.Device, error) {
	return s.FindDeviceByIDFn(ctx, id)
}

func (s *DeviceService) FindDevices(ctx context.Context, f thermo.DeviceFilter) ([]*thermo.Device, int, error) {
	return s.FindDevicesFn(ctx, f)
}

func (s *DeviceService) UpdateDevice(ctx context.Context, id int64, upd thermo.DeviceUpdate) (*thermo.Device, error) {
	return s.UpdateDeviceFn(ctx, id, upd)
}

func (s *DeviceService) DeactivateDevice(ctx context.Context, id int64) (*thermo.Device, error) {
	return s.DeactivateDeviceFn(ctx, id)
}
