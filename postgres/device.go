package postgres

import (
	"context"
	"fmt"

	"github.com/thermo/thermo"
	"github.com/thermo/thermo/postgres/internal/pgdb"
)

var _ thermo.DeviceService = (*DeviceService)(nil)

// DeviceService stores devices in the tenant's devices table.
type DeviceService struct {
	db *DB
}

// NewDeviceService returns a DeviceService backed by db.
func NewDeviceService(db *DB) *DeviceService { return &DeviceService{db: db} }

// CreateDevice validates d (filling in its default name) and stores it.
func (s *DeviceService) CreateDevice(ctx context.Context, d *thermo.Device) error {
	if err := d.Validate(); err != nil {
		return err
	}
	return s.db.InTx(ctx, func(ctx context.Context) error {
		q := queries(ctx)
		if err := checkOwner(ctx, q, d.OwnerID); err != nil {
			return err
		}
		row, err := q.CreateDevice(ctx, pgdb.CreateDeviceParams{
			SerialNumber: d.SerialNumber, Name: d.Name, Location: d.Location, OwnerID: d.OwnerID,
		})
		if err = mapError(err, ""); thermo.ErrorCode(err) == thermo.ECONFLICT {
			return thermo.Errorf(thermo.ECONFLICT, "A device with serial number %s is already registered.", d.SerialNumber)
		} else if err != nil {
			return fmt.Errorf("create device: %w", err)
		}
		*d = *deviceFromRow(row)
		return nil
	})
}

// checkOwner rejects an owner that is not a live user of the tenant. The
// foreign key alone would accept a soft-deleted one.
func checkOwner(ctx context.Context, q *pgdb.Queries, ownerID *int64) error {
	if ownerID == nil {
		return nil
	}
	live, err := q.UserIsLive(ctx, *ownerID)
	if err != nil {
		return fmt.Errorf("check owner: %w", err)
	} else if !live {
		return thermo.InvalidFields(thermo.FieldError{Field: "ownerId", Reason: fmt.Sprintf("user %d does not exist", *ownerID)})
	}
	return nil
}

// FindDeviceByID returns the device with id.
func (s *DeviceService) FindDeviceByID(ctx context.Context, id int64) (*thermo.Device, error) {
	var d *thermo.Device
	err := s.db.ReadTx(ctx, func(ctx context.Context) error {
		row, err := queries(ctx).FindDeviceByID(ctx, id)
		if err != nil {
			return mapError(err, deviceNotFound(id))
		}
		d = deviceFromRow(row)
		return nil
	})
	return d, err
}

// FindDevices returns one page sorted by name and the total count, both
// from one statement. Only a page past the end needs a second one.
func (s *DeviceService) FindDevices(ctx context.Context, f thermo.DeviceFilter) ([]*thermo.Device, int, error) {
	f.Normalize()
	var (
		devices = make([]*thermo.Device, 0, f.PageSize)
		total   int64
	)
	err := s.db.ReadTx(ctx, func(ctx context.Context) error {
		q := queries(ctx)
		rows, err := q.FindDevices(ctx, pgdb.FindDevicesParams{
			IsActive: f.Active, RowLimit: int32(f.PageSize), RowOffset: int32((f.Page - 1) * f.PageSize),
		})
		if err != nil {
			return fmt.Errorf("find devices: %w", err)
		}
		for _, row := range rows {
			devices = append(devices, deviceFromRow(row.Device))
			total = row.Total
		}
		if len(rows) == 0 && f.Page > 1 {
			if total, err = q.CountDevices(ctx, f.Active); err != nil {
				return fmt.Errorf("count devices: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return devices, int(total), nil
}

// UpdateDevice applies upd and returns the device as stored.
func (s *DeviceService) UpdateDevice(ctx context.Context, id int64, upd thermo.DeviceUpdate) (*thermo.Device, error) {
	if err := upd.Validate(); err != nil {
		return nil, err
	}
	var d *thermo.Device
	err := s.db.InTx(ctx, func(ctx context.Context) error {
		q := queries(ctx)
		if err := checkOwner(ctx, q, upd.OwnerID); err != nil {
			return err
		}
		row, err := q.UpdateDevice(ctx, pgdb.UpdateDeviceParams{
			ID: id, Name: upd.Name, Location: upd.Location, OwnerID: upd.OwnerID, IsActive: upd.IsActive,
		})
		if err != nil {
			return mapError(err, deviceNotFound(id))
		}
		d = deviceFromRow(row)
		return nil
	})
	return d, err
}

// DeactivateDevice marks the device inactive; it keeps its readings.
func (s *DeviceService) DeactivateDevice(ctx context.Context, id int64) (*thermo.Device, error) {
	off := false
	return s.UpdateDevice(ctx, id, thermo.DeviceUpdate{IsActive: &off})
}

func deviceNotFound(id int64) string { return fmt.Sprintf("Device %d not found.", id) }

func deviceFromRow(r pgdb.Device) *thermo.Device {
	return &thermo.Device{
		ID: r.ID, SerialNumber: r.SerialNumber, Name: r.Name, Location: r.Location,
		OwnerID: r.OwnerID, IsActive: r.IsActive,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
}
