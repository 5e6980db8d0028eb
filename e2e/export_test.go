package e2e_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/thermo/thermo"
	"github.com/thermo/thermo/postgres"
)

func TestExport(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.newTenant(t)
	d := c.createDevice(t, "TH-1")
	newest := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
	rs := series(3, newest, time.Minute)
	rs[1].Humidity, rs[1].BatteryLevel = ptr(45.5), ptr(0.87)
	c.postBatch(t, d.ID, rs)
	export := path("/v1/devices/%d/readings/export", d.ID)

	t.Run("CSV", func(t *testing.T) {
		t.Parallel()
		resp := c.request(t, http.MethodGet, export, nil)
		body := readAll(t, resp)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" ||
			!strings.Contains(resp.Header.Get("Content-Disposition"), fmt.Sprintf("device-%d-readings.csv", d.ID)) {
			t.Fatalf("export = %d %v: %s", resp.StatusCode, resp.Header, body)
		}
		lines := strings.Split(strings.TrimSuffix(body, "\n"), "\n")
		want := []string{
			"id,deviceId,recordedAt,temperatureCelsius,humidity,batteryLevel",
			fmt.Sprintf(",%d,%s,20.2,,", d.ID, newest.Add(-2*time.Minute).Format(time.RFC3339)),
			fmt.Sprintf(",%d,%s,20.1,45.5,0.87", d.ID, newest.Add(-time.Minute).Format(time.RFC3339)),
			fmt.Sprintf(",%d,%s,20,,", d.ID, newest.Format(time.RFC3339)),
		}
		if len(lines) != len(want) || lines[0] != want[0] {
			t.Fatalf("csv = %q", lines)
		}
		for i := 1; i < len(want); i++ {
			if _, rest, _ := strings.Cut(lines[i], ","); ","+rest != want[i] {
				t.Errorf("row %d = %q, want id%s", i, lines[i], want[i])
			}
		}
	})

	t.Run("NDJSONWithRange", func(t *testing.T) {
		t.Parallel()
		q := url.Values{"format": {"ndjson"}, "from": {newest.Add(-time.Minute).Format(time.RFC3339)}}
		resp := c.request(t, http.MethodGet, export+"?"+q.Encode(), nil)
		body := readAll(t, resp)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/x-ndjson" {
			t.Fatalf("export = %d %v: %s", resp.StatusCode, resp.Header, body)
		}
		var got []reading
		for line := range strings.Lines(body) {
			var r reading
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatalf("line %q: %v", line, err)
			}
			got = append(got, r)
		}
		if len(got) != 2 || !got[0].RecordedAt.Before(got[1].RecordedAt) || *got[0].BatteryLevel != 0.87 {
			t.Errorf("ndjson = %+v", got)
		}
	})

	t.Run("Errors", func(t *testing.T) {
		t.Parallel()
		c.fail(t, http.MethodGet, path("/v1/devices/%d/readings/export", d.ID+100), nil, http.StatusNotFound)
		c.fail(t, http.MethodGet, export+"?format=xml", nil, http.StatusUnprocessableEntity)
		c.fail(t, http.MethodGet, export+"?minTemp=5&maxTemp=1", nil, http.StatusUnprocessableEntity)
		resp := c.request(t, http.MethodGet, path("/v1/devices/%d/readings/export?from=%s", d.ID, url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339))), nil)
		if body := readAll(t, resp); resp.StatusCode != http.StatusOK || body != "id,deviceId,recordedAt,temperatureCelsius,humidity,batteryLevel\n" {
			t.Errorf("empty export = %d %q, want only the header row", resp.StatusCode, body)
		}
	})
}

// TestExportMemory streams 200,000 readings and checks that the live heap
// stays flat: it must not grow with the export's size. It does not call
// t.Parallel: it measures this process's heap, so it runs alone, before the
// parallel tests start.
func TestExportMemory(t *testing.T) {
	const rows = 200_000
	b := setup(t)
	c := b.newTenant(t)
	d := c.createDevice(t, "TH-1")
	generate(t, b.db, c.tenant, d.ID, rows)

	// Frequent GCs make the live-heap samples track what is really held.
	defer debug.SetGCPercent(debug.SetGCPercent(20))
	runtime.GC()
	base := liveHeap()
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { // sample the live heap (as of the last GC) while streaming
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if h := liveHeap(); h > peak.Load() {
					peak.Store(h)
				}
			}
		}
	})

	start := time.Now()
	resp := c.request(t, http.MethodGet, path("/v1/devices/%d/readings/export?format=csv", d.ID), nil)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("export = %d", resp.StatusCode)
	}
	n, size := 0, 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		n++
		size += len(sc.Bytes()) + 1
	}
	elapsed := time.Since(start)
	close(stop)
	wg.Wait()
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n != rows+1 {
		t.Fatalf("export has %d lines, want %d rows and a header", n, rows)
	}
	growth := int64(peak.Load()) - int64(base)
	t.Logf("exported %d rows (%.1f MB) in %v; live heap %.1f MB before, peak growth %.1f MB",
		rows, float64(size)/1e6, elapsed.Round(time.Millisecond), float64(base)/1e6, float64(growth)/1e6)
	// Buffering the export would hold at least the body (≈12 MB) or the rows
	// (≈15 MB); streaming holds one batch (≤16,384 rows, ≈2 MB).
	if limit := int64(size / 2); growth > limit {
		t.Errorf("live heap grew by %d bytes while streaming %d bytes; want under %d (half the body)", growth, size, limit)
	}
}

// generate inserts n readings for device server-side, one per 30 s up to now.
func generate(t *testing.T, db *postgres.DB, tenant string, deviceID int64, n int) {
	t.Helper()
	ctx := thermo.WithTenant(context.Background(), tenant)
	err := db.InTx(ctx, func(ctx context.Context) error {
		tx, _ := postgres.TxFromContext(ctx)
		_, err := tx.Exec(ctx, `
			INSERT INTO readings (device_id, recorded_at, temperature_celsius, humidity, battery_level)
			SELECT $1, now() - g * interval '30 seconds', 18 + (g % 97) / 7.0, 40 + (g % 13), 0.5
			FROM generate_series(0, $2 - 1) g`, deviceID, n)
		return err
	})
	if err != nil {
		t.Fatalf("generate readings: %v", err)
	}
}

// liveHeap returns the heap that survived the last GC.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func ptr[T any](v T) *T { return &v }
