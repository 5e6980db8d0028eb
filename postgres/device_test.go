package postgres_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/thermo/thermo"
	"github.com/thermo/thermo/postgres"
)

func createDevice(t testing.TB, ctx context.Context, s *postgres.DeviceService, d *thermo.Device) *thermo.Device {
	t.Helper()
	if err := s.CreateDevice(ctx, d); err != nil {
		t.Fatalf("create device %s: %v", d.SerialNumber, err)
	}
	return d
}

func TestDeviceService(t *testing.T) {
	t.Parallel()
	b := setup(t)
	devices := postgres.NewDeviceService(b.db)
	users := postgres.NewUserService(b.db)

	t.Run("CreateDefaultsAndFind", func(t *testing.T) {
		t.Parallel()
		ctx := b.tenantContext(t)
		d := createDevice(t, ctx, devices, &thermo.Device{SerialNumber: "SN-1", Location: "Lobby"})
		if d.ID == 0 || d.Name != "Sensor-SN-1" || !d.IsActive || d.OwnerID != nil {
			t.Fatalf("created = %+v", d)
		}
		got, err := devices.FindDeviceByID(ctx, d.ID)
		if err != nil || *got != *d {
			t.Fatalf("FindDeviceByID = %+v, %v; want %+v", got, err, d)
		}
		_, err = devices.FindDeviceByID(ctx, d.ID+1)
		wantCode(t, err, thermo.ENOTFOUND)
	})

	t.Run("DuplicateSerialConflicts", func(t *testing.T) {
		t.Parallel()
		ctx := b.tenantContext(t)
		createDevice(t, ctx, devices, &thermo.Device{SerialNumber: "SN-1"})
		wantCode(t, devices.CreateDevice(ctx, &thermo.Device{SerialNumber: "SN-1", Name: "again"}), thermo.ECONFLICT)
	})

	t.Run("OwnerMustBeLive", func(t *testing.T) {
		t.Parallel()
		ctx := b.tenantContext(t)
		u := createUser(t, ctx, users, "alice")
		d := createDevice(t, ctx, devices, &thermo.Device{SerialNumber: "SN-1", OwnerID: &u.ID})
		if d.OwnerID == nil || *d.OwnerID != u.ID {
			t.Fatalf("owner = %v, want %d", d.OwnerID, u.ID)
		}
		if err := users.DeleteUser(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		wantCode(t, devices.CreateDevice(ctx, &thermo.Device{SerialNumber: "SN-2", OwnerID: &u.ID}), thermo.EINVALID)
		_, err := devices.UpdateDevice(ctx, d.ID, thermo.DeviceUpdate{OwnerID: &u.ID})
		wantCode(t, err, thermo.EINVALID)
	})

	t.Run("UpdateAndDeactivate", func(t *testing.T) {
		t.Parallel()
		ctx := b.tenantContext(t)
		d := createDevice(t, ctx, devices, &thermo.Device{SerialNumber: "SN-1"})
		name, loc := "Kitchen", "2nd floor"
		got, err := devices.UpdateDevice(ctx, d.ID, thermo.DeviceUpdate{Name: &name, Location: &loc})
		if err != nil || got.Name != name || got.Location != loc || !got.IsActive || !got.UpdatedAt.After(d.UpdatedAt) {
			t.Fatalf("UpdateDevice = %+v, %v", got, err)
		}
		got, err = devices.DeactivateDevice(ctx, d.ID)
		if err != nil || got.IsActive || got.Name != name {
			t.Fatalf("DeactivateDevice = %+v, %v", got, err)
		}
		empty := ""
		_, err = devices.UpdateDevice(ctx, d.ID, thermo.DeviceUpdate{Name: &empty})
		wantCode(t, err, thermo.EINVALID)
		_, err = devices.DeactivateDevice(ctx, d.ID+1)
		wantCode(t, err, thermo.ENOTFOUND)
	})

	t.Run("ListPagesWithTotal", func(t *testing.T) {
		t.Parallel()
		ctx := b.tenantContext(t)
		for i := range 7 {
			d := createDevice(t, ctx, devices, &thermo.Device{SerialNumber: fmt.Sprintf("SN-%d", i), Name: fmt.Sprintf("dev %c", 'g'-i)})
			if i%3 == 0 {
				if _, err := devices.DeactivateDevice(ctx, d.ID); err != nil {
					t.Fatal(err)
				}
			}
		}
		list, total, err := devices.FindDevices(ctx, thermo.DeviceFilter{Page: 1, PageSize: 3})
		if err != nil || total != 7 || len(list) != 3 || list[0].Name != "dev a" || list[2].Name != "dev c" {
			t.Fatalf("page 1 = %v (total %d), %v", names(list), total, err)
		}
		list, total, err = devices.FindDevices(ctx, thermo.DeviceFilter{Page: 3, PageSize: 3})
		if err != nil || total != 7 || len(list) != 1 || list[0].Name != "dev g" {
			t.Fatalf("page 3 = %v (total %d), %v", names(list), total, err)
		}
		list, total, err = devices.FindDevices(ctx, thermo.DeviceFilter{Page: 9, PageSize: 3})
		if err != nil || total != 7 || len(list) != 0 {
			t.Fatalf("page past the end = %v (total %d), %v", names(list), total, err)
		}
		active := true
		list, total, err = devices.FindDevices(ctx, thermo.DeviceFilter{Active: &active, PageSize: 10})
		if err != nil || total != 4 || len(list) != 4 {
			t.Fatalf("active = %v (total %d), %v", names(list), total, err)
		}
		for _, d := range list {
			if !d.IsActive {
				t.Errorf("inactive device %s in active list", d.Name)
			}
		}
	})
}

func names(ds []*thermo.Device) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Name
	}
	return out
}
