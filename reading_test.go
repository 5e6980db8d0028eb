package thermo_test

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/thermo/thermo"
)

func ptr[T any](v T) *T { return &v }

func TestReadingValidate(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 28, 10, 0, 0, 0, time.UTC)
	ok := thermo.Reading{TemperatureCelsius: 21.5, RecordedAt: now}
	for name, tt := range map[string]struct {
		edit func(*thermo.Reading)
		bad  string // the field reported, "" if valid
	}{
		"Valid":            {func(*thermo.Reading) {}, ""},
		"AbsoluteZero":     {func(r *thermo.Reading) { r.TemperatureCelsius = -273.15 }, ""},
		"BelowZeroKelvin":  {func(r *thermo.Reading) { r.TemperatureCelsius = -273.16 }, "temperatureCelsius"},
		"TooHot":           {func(r *thermo.Reading) { r.TemperatureCelsius = 1000.01 }, "temperatureCelsius"},
		"NaN":              {func(r *thermo.Reading) { r.TemperatureCelsius = math.NaN() }, "temperatureCelsius"},
		"Infinite":         {func(r *thermo.Reading) { r.TemperatureCelsius = math.Inf(1) }, "temperatureCelsius"},
		"Humidity100":      {func(r *thermo.Reading) { r.Humidity = ptr(100.0) }, ""},
		"HumidityNegative": {func(r *thermo.Reading) { r.Humidity = ptr(-0.1) }, "humidity"},
		"HumidityNaN":      {func(r *thermo.Reading) { r.Humidity = ptr(math.NaN()) }, "humidity"},
		"BatteryFull":      {func(r *thermo.Reading) { r.BatteryLevel = ptr(1.0) }, ""},
		"BatteryOver":      {func(r *thermo.Reading) { r.BatteryLevel = ptr(1.01) }, "batteryLevel"},
		"NoRecordedAt":     {func(r *thermo.Reading) { r.RecordedAt = time.Time{} }, "recordedAt"},
		"FiveMinutesAhead": {func(r *thermo.Reading) { r.RecordedAt = now.Add(5 * time.Minute) }, ""},
		"TooFarAhead":      {func(r *thermo.Reading) { r.RecordedAt = now.Add(5*time.Minute + time.Second) }, "recordedAt"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := ok
			tt.edit(&r)
			errs := r.Validate(now, "x.")
			switch {
			case tt.bad == "" && len(errs) > 0:
				t.Errorf("errors = %v, want none", errs)
			case tt.bad != "" && (len(errs) != 1 || errs[0].Field != "x."+tt.bad):
				t.Errorf("errors = %v, want one for x.%s", errs, tt.bad)
			}
		})
	}
}

func TestValidateReadings(t *testing.T) {
	t.Parallel()
	now := time.Now()
	batch := make([]thermo.Reading, 1500)
	for i := range batch {
		batch[i] = thermo.Reading{TemperatureCelsius: 2000, RecordedAt: now.Add(time.Nanosecond)}
	}
	err := thermo.ValidateReadings(batch, now)
	var te *thermo.Error
	if !errors.As(err, &te) || te.Code != thermo.EINVALID || len(te.Fields) != 1000 ||
		te.Fields[999].Field != "readings[999].temperatureCelsius" || !strings.Contains(te.Message, "1500 invalid fields") {
		t.Fatalf("error = %v (%d fields)", err, len(te.Fields))
	}
	if !batch[0].RecordedAt.Equal(now.Truncate(time.Microsecond)) || batch[0].RecordedAt.Location() != time.UTC {
		t.Errorf("recordedAt not normalized to UTC microseconds: %v", batch[0].RecordedAt)
	}
	if err := thermo.ValidateReadings(make([]thermo.Reading, thermo.MaxBatchReadings+1), now); thermo.ErrorCode(err) != thermo.ETOOLARGE {
		t.Errorf("oversized batch = %v, want too_large", err)
	}
}

func TestDeviceValidate(t *testing.T) {
	t.Parallel()
	d := thermo.Device{SerialNumber: "TH-0042"}
	if err := d.Validate(); err != nil || d.Name != "Sensor-TH-0042" || !d.IsActive {
		t.Fatalf("Validate = %v, device %+v", err, d)
	}
	for _, serial := range []string{"", "-lead", "has space", strings.Repeat("x", 65), "naïve"} {
		d := thermo.Device{SerialNumber: serial}
		var te *thermo.Error
		if err := d.Validate(); !errors.As(err, &te) || len(te.Fields) != 1 || te.Fields[0].Field != "serialNumber" {
			t.Errorf("serial %q: %v", serial, err)
		}
	}
	d = thermo.Device{SerialNumber: "ok", Name: strings.Repeat("é", 201), OwnerID: ptr(int64(0))}
	if err := d.Validate(); fmt.Sprint(err.(*thermo.Error).Fields) != "[{name must be 1 to 200 printable characters} {ownerId must be a user id (at least 1)}]" {
		t.Errorf("Validate = %v", err.(*thermo.Error).Fields)
	}
}

func TestUserValidate(t *testing.T) {
	t.Parallel()
	good := thermo.User{KeycloakSubjectID: "f81d4fae-7dec-11d0-a765-00a0c91e6bf6", Email: "a@b.example", Name: "Ann"}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, u := range []thermo.User{
		{KeycloakSubjectID: "", Email: "a@b.example"},
		{KeycloakSubjectID: "a\tb", Email: "a@b.example"},
		{KeycloakSubjectID: "s", Email: "Ann <a@b.example>"},
		{KeycloakSubjectID: "s", Email: "no-at-sign"},
		{KeycloakSubjectID: "s", Email: "a@b.example", Name: "bell\a"},
	} {
		if err := u.Validate(); thermo.ErrorCode(err) != thermo.EINVALID {
			t.Errorf("%+v: %v, want invalid", u, err)
		}
	}
}
