package thermo

import (
	"context"
	"regexp"
	"time"
	"unicode/utf8"
)

// Device is a thermometer registered in a tenant. A deactivated device keeps
// its readings but accepts no new ones.
type Device struct {
	ID           int64     `json:"id"`
	SerialNumber string    `json:"serialNumber"`
	Name         string    `json:"name"`
	Location     string    `json:"location"`
	OwnerID      *int64    `json:"ownerId"`
	IsActive     bool      `json:"isActive"`
	CreatedAt    time.Time `json:"createdAt"`
	UpdatedAt    time.Time `json:"updatedAt"`
}

// Device list page sizes.
const (
	DefaultDevicePageSize = 20
	MaxDevicePageSize     = 100
	MaxDevicePage         = 100_000
)

// serialPattern keeps serial numbers safe to show and to put in a name.
var serialPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$`)

// Validate checks a new device and fills in defaults: a missing name becomes
// "Sensor-<serial>". New devices are active.
func (d *Device) Validate() error {
	var errs []FieldError
	name := &d.Name
	switch {
	case !serialPattern.MatchString(d.SerialNumber):
		errs = append(errs, FieldError{Field: "serialNumber", Reason: "must be 1 to 64 characters of A-Z a-z 0-9 . _ : / - starting with a letter or digit"})
		if d.Name == "" {
			name = nil // no default to check without a serial number
		}
	case d.Name == "":
		d.Name = "Sensor-" + d.SerialNumber
	}
	errs = append(errs, validateDeviceText(name, &d.Location, d.OwnerID)...)
	if len(errs) > 0 {
		return InvalidFields(errs...)
	}
	d.IsActive = true
	return nil
}

// validateDeviceText checks the fields a device update may also change.
func validateDeviceText(name, location *string, ownerID *int64) []FieldError {
	var errs []FieldError
	if name != nil {
		if n := utf8.RuneCountInString(*name); n < 1 || n > 200 || !printable(*name, true) {
			errs = append(errs, FieldError{Field: "name", Reason: "must be 1 to 200 printable characters"})
		}
	}
	if location != nil {
		if utf8.RuneCountInString(*location) > 200 || !printable(*location, true) {
			errs = append(errs, FieldError{Field: "location", Reason: "must be at most 200 printable characters"})
		}
	}
	if ownerID != nil && *ownerID < 1 {
		errs = append(errs, FieldError{Field: "ownerId", Reason: "must be a user id (at least 1)"})
	}
	return errs
}

// DeviceUpdate changes the fields that are not nil.
type DeviceUpdate struct {
	Name     *string `json:"name,omitempty"`
	Location *string `json:"location,omitempty"`
	OwnerID  *int64  `json:"ownerId,omitempty"`
	IsActive *bool   `json:"isActive,omitempty"`
}

// Validate checks the fields the update sets.
func (u DeviceUpdate) Validate() error {
	if errs := validateDeviceText(u.Name, u.Location, u.OwnerID); len(errs) > 0 {
		return InvalidFields(errs...)
	}
	return nil
}

// DeviceFilter selects a page of devices sorted by name. Page numbers start
// at 1; a total count comes with every page.
type DeviceFilter struct {
	// Active, if set, keeps only active (true) or inactive (false) devices.
	Active   *bool
	Page     int
	PageSize int
}

// Normalize applies defaults and bounds to the page and page size.
func (f *DeviceFilter) Normalize() {
	f.Page = min(max(f.Page, 1), MaxDevicePage)
	switch {
	case f.PageSize < 1:
		f.PageSize = DefaultDevicePageSize
	case f.PageSize > MaxDevicePageSize:
		f.PageSize = MaxDevicePageSize
	}
}

// DeviceService manages the devices of the tenant in ctx.
type DeviceService interface {
	// CreateDevice validates d, stores it and fills in its id and
	// timestamps. A serial number already registered is an ECONFLICT; an
	// owner that is not a live user is EINVALID.
	CreateDevice(ctx context.Context, d *Device) error
	FindDeviceByID(ctx context.Context, id int64) (*Device, error)
	// FindDevices returns one page and the total number of matching devices.
	FindDevices(ctx context.Context, filter DeviceFilter) ([]*Device, int, error)
	UpdateDevice(ctx context.Context, id int64, upd DeviceUpdate) (*Device, error)
	// DeactivateDevice marks a device inactive (idempotent).
	DeactivateDevice(ctx context.Context, id int64) (*Device, error)
}
