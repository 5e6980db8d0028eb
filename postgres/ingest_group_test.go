package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/thermo/thermo"
	"github.com/thermo/thermo/postgres"
)

// groupDevices creates n more active devices in rb's tenant.
func groupDevices(t *testing.T, rb *readingBundle, n int) []*thermo.Device {
	t.Helper()
	ds := make([]*thermo.Device, n)
	for i := range ds {
		ds[i] = createDevice(t, rb.ctx, rb.devices, &thermo.Device{SerialNumber: fmt.Sprintf("G-%d", i)})
	}
	return ds
}

// ingestResult is one concurrent IngestReading outcome.
type ingestResult struct {
	device  int64
	reading thermo.Reading
	created bool
	err     error
	events  []*thermo.Event // collected in the caller's ctx
}

// ingestConcurrently posts every (device, reading) pair at once.
func ingestConcurrently(rs *postgres.ReadingService, ctx context.Context, devices []int64, readings []thermo.Reading) []ingestResult {
	out := make([]ingestResult, len(readings))
	var wg sync.WaitGroup
	for i := range readings {
		wg.Go(func() {
			r := readings[i]
			ctx, col := thermo.WithEventCollector(ctx)
			created, err := rs.IngestReading(ctx, devices[i], &r)
			out[i] = ingestResult{device: devices[i], reading: r, created: created, err: err, events: col.Events()}
		})
	}
	wg.Wait()
	return out
}

// TestGroupIngest_ExactlyOnce: 200 concurrent single ingests over 20
// devices, 40 of them repeated at the same time: each reading is stored
// once, exactly one post of each is "created", the repeats get the stored
// reading.
func TestGroupIngest_ExactlyOnce(t *testing.T) {
	t.Parallel()
	rb := setupReadings(t)
	ds := groupDevices(t, rb, 20)
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	var devices []int64
	var readings []thermo.Reading
	for i := range 200 {
		devices = append(devices, ds[i%20].ID)
		readings = append(readings, thermo.Reading{TemperatureCelsius: float64(i % 50), RecordedAt: base.Add(time.Duration(i) * time.Second)})
	}
	for i := range 40 { // retries of readings 0..39, other temperature
		devices = append(devices, devices[i])
		readings = append(readings, thermo.Reading{TemperatureCelsius: 99, RecordedAt: readings[i].RecordedAt})
	}
	created := map[string]int64{} // key → id of the created post
	results := ingestConcurrently(rb.readings, rb.ctx, devices, readings)
	for _, res := range results {
		if res.err != nil {
			t.Fatalf("device %d: %v", res.device, res.err)
		}
		if res.created {
			k := fmt.Sprint(res.device, res.reading.RecordedAt.UnixMicro())
			if _, twice := created[k]; twice {
				t.Fatalf("reading %s created twice", k)
			}
			created[k] = res.reading.ID
		}
	}
	if len(created) != 200 {
		t.Fatalf("%d created, want 200", len(created))
	}
	for _, res := range results {
		k := fmt.Sprint(res.device, res.reading.RecordedAt.UnixMicro())
		if res.reading.ID != created[k] || res.reading.DeviceID != res.device {
			t.Fatalf("post %s got reading %+v, want stored id %d", k, res.reading, created[k])
		}
	}
	if n := rb.count(t); n != 200 {
		t.Fatalf("rows = %d, want 200", n)
	}
}

// TestGroupIngest_PerRequestErrors: an inactive and an unknown device
// posting with active ones get 409 and 404; the others are stored.
func TestGroupIngest_PerRequestErrors(t *testing.T) {
	t.Parallel()
	rb := setupReadings(t)
	ds := groupDevices(t, rb, 4)
	if _, err := rb.devices.DeactivateDevice(rb.ctx, ds[0].ID); err != nil {
		t.Fatal(err)
	}
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	var devices []int64
	var readings []thermo.Reading
	for i := range 100 {
		id := ds[i%4].ID
		if i%10 == 9 {
			id = ds[3].ID + 1000 // no such device
		}
		devices = append(devices, id)
		readings = append(readings, thermo.Reading{TemperatureCelsius: 20, RecordedAt: base.Add(time.Duration(i) * time.Second)})
	}
	stored := 0
	for _, res := range ingestConcurrently(rb.readings, rb.ctx, devices, readings) {
		switch {
		case res.device == ds[0].ID:
			wantCode(t, res.err, thermo.ECONFLICT)
		case res.device > ds[3].ID:
			wantCode(t, res.err, thermo.ENOTFOUND)
		case res.err != nil || !res.created:
			t.Fatalf("device %d: created %v, %v", res.device, res.created, res.err)
		default:
			stored++
		}
	}
	if n := rb.count(t); n != stored || stored == 0 {
		t.Fatalf("rows = %d, want %d", n, stored)
	}
}

// TestGroupIngest_HookErrorFailsOnlyItsDevice: a hook failing for one
// device fails that device's posts; the group's others are retried alone
// and stored.
func TestGroupIngest_HookErrorFailsOnlyItsDevice(t *testing.T) {
	t.Parallel()
	rb := setupReadings(t)
	ds := groupDevices(t, rb, 5)
	boom := errors.New("boom")
	rb.readings.AfterIngest = []postgres.IngestHook{func(_ context.Context, id int64, _ []*thermo.Reading) error {
		if id == ds[2].ID {
			return boom
		}
		return nil
	}}
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	var devices []int64
	var readings []thermo.Reading
	for i := range 50 {
		devices = append(devices, ds[i%5].ID)
		readings = append(readings, thermo.Reading{TemperatureCelsius: 20, RecordedAt: base.Add(time.Duration(i) * time.Second)})
	}
	for _, res := range ingestConcurrently(rb.readings, rb.ctx, devices, readings) {
		if res.device == ds[2].ID {
			if !errors.Is(res.err, boom) {
				t.Fatalf("failing device: err %v, want boom", res.err)
			}
		} else if res.err != nil || !res.created {
			t.Fatalf("device %d: created %v, %v", res.device, res.created, res.err)
		}
	}
	if n := rb.count(t); n != 40 {
		t.Fatalf("rows = %d, want 40", n)
	}
}

// TestGroupIngest_AlertsFireOncePerDevice: 20 devices with an "above 30"
// rule each, 10 hot readings per device posted at once: one alert each,
// and its alert.fired event reaches exactly one caller's collector.
func TestGroupIngest_AlertsFireOncePerDevice(t *testing.T) {
	t.Parallel()
	ab := setupAlerts(t)
	ds := groupDevices(t, ab.readingBundle, 20)
	for _, d := range ds {
		r := thermo.AlertRule{DeviceID: d.ID, IsEnabled: true, Condition: thermo.ConditionAbove, ThresholdCelsius: 30}
		if err := ab.alerts.CreateAlertRule(ab.ctx, &r); err != nil {
			t.Fatal(err)
		}
	}
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	var devices []int64
	var readings []thermo.Reading
	for i := range 200 {
		devices = append(devices, ds[i%20].ID)
		readings = append(readings, thermo.Reading{TemperatureCelsius: 31 + float64(i%7), RecordedAt: base.Add(time.Duration(i) * time.Second)})
	}
	firedEvents := map[int64]int{}
	for _, res := range ingestConcurrently(ab.readings, ab.ctx, devices, readings) {
		if res.err != nil {
			t.Fatal(res.err)
		}
		for _, e := range res.events {
			if e.Type == thermo.EventAlertFired && e.DeviceID == res.device {
				firedEvents[e.DeviceID]++
			}
		}
	}
	if as := ab.list(t, thermo.AlertFilter{}); len(as) != 20 || ab.fired.Load() != 20 {
		t.Fatalf("%d alerts, %d fired; want 20 (one per device)", len(as), ab.fired.Load())
	}
	for _, d := range ds {
		if firedEvents[d.ID] != 1 {
			t.Fatalf("device %d: %d alert.fired events reached callers, want 1", d.ID, firedEvents[d.ID])
		}
	}
}

// TestGroupIngest_CancelledCaller: a caller whose ctx is already done gets
// its error and later callers are unaffected.
func TestGroupIngest_CancelledCaller(t *testing.T) {
	t.Parallel()
	rb := setupReadings(t)
	ctx, cancel := context.WithCancel(rb.ctx)
	cancel()
	r := thermo.Reading{TemperatureCelsius: 20, RecordedAt: time.Now().Add(-time.Minute)}
	if _, err := rb.readings.IngestReading(ctx, rb.device.ID, &r); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled ingest: err %v", err)
	}
	r2 := thermo.Reading{TemperatureCelsius: 21, RecordedAt: time.Now().Add(-2 * time.Minute)}
	if created, err := rb.readings.IngestReading(rb.ctx, rb.device.ID, &r2); err != nil || !created {
		t.Fatalf("next ingest: created %v, %v", created, err)
	}
}
