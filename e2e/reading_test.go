package e2e_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestIngest(t *testing.T) {
	t.Parallel()
	b := setup(t)

	t.Run("SingleAndDuplicateRetry", func(t *testing.T) {
		t.Parallel()
		c := b.newTenant(t)
		d := c.createDevice(t, "TH-1")
		at := time.Now().Add(-time.Minute).UTC().Truncate(time.Millisecond)
		body := map[string]any{"temperatureCelsius": 21.5, "humidity": 45.2, "batteryLevel": nil, "recordedAt": at}
		var first, retry reading
		c.call(t, http.MethodPost, path("/v1/devices/%d/readings", d.ID), body, http.StatusCreated, &first)
		if first.ID == 0 || first.Duplicate || first.DeviceID != d.ID || !first.RecordedAt.Equal(at) || first.BatteryLevel != nil {
			t.Fatalf("created = %+v", first)
		}
		body["temperatureCelsius"] = 30.0 // a retry after a timeout; the first write wins
		c.call(t, http.MethodPost, path("/v1/devices/%d/readings", d.ID), body, http.StatusOK, &retry)
		if !retry.Duplicate || retry.ID != first.ID || retry.TemperatureCelsius != 21.5 {
			t.Fatalf("retry = %+v, want duplicate of %+v", retry, first)
		}
		var page readingPage
		c.call(t, http.MethodGet, path("/v1/devices/%d/readings", d.ID), nil, http.StatusOK, &page)
		if page.Count != 1 {
			t.Fatalf("history has %d readings after a retry, want 1", page.Count)
		}
	})

	t.Run("Batch", func(t *testing.T) {
		t.Parallel()
		c := b.newTenant(t)
		d := c.createDevice(t, "TH-1")
		rs := series(500, time.Now().Add(-time.Minute), 30*time.Second)
		if res := c.postBatch(t, d.ID, rs); res != (ingestResult{500, 500, 0}) {
			t.Fatalf("first batch = %+v", res)
		}
		retry := append(rs[:100:100], rs[0], newReading{TemperatureCelsius: 1, RecordedAt: time.Now()})
		if res := c.postBatch(t, d.ID, retry); res != (ingestResult{102, 1, 101}) {
			t.Fatalf("retried batch = %+v, want 1 new and 101 duplicates", res)
		}
	})

	t.Run("InvalidBatchWritesNothing", func(t *testing.T) {
		t.Parallel()
		c := b.newTenant(t)
		d := c.createDevice(t, "TH-1")
		rs := series(50, time.Now().Add(-time.Minute), time.Second)
		body := map[string]any{"readings": rs}
		raw := mustJSON(t, body)
		// Make readings[3] too hot and readings[7] recorded an hour ahead.
		raw = strings.Replace(raw, `"temperatureCelsius":20.3`, `"temperatureCelsius":1000.5`, 1)
		future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		raw = strings.Replace(raw, rs[7].RecordedAt.Format(time.RFC3339Nano), future, 1)
		p := c.fail(t, http.MethodPost, path("/v1/devices/%d/readings/batch", d.ID), raw, http.StatusUnprocessableEntity)
		if got := fmt.Sprint(p.fields()); got != "[readings[3].temperatureCelsius]" && got != "[readings[3].temperatureCelsius readings[7].recordedAt]" {
			t.Errorf("fields = %s", got)
		}
		// Range errors pass huma's schema; the future instant only the domain
		// catches. Either way nothing is written.
		raw = mustJSON(t, map[string]any{"readings": rs})
		raw = strings.Replace(raw, rs[7].RecordedAt.Format(time.RFC3339Nano), future, 1)
		p = c.fail(t, http.MethodPost, path("/v1/devices/%d/readings/batch", d.ID), raw, http.StatusUnprocessableEntity)
		if got := fmt.Sprint(p.fields()); got != "[readings[7].recordedAt]" {
			t.Errorf("fields = %s", got)
		}
		var page readingPage
		c.call(t, http.MethodGet, path("/v1/devices/%d/readings", d.ID), nil, http.StatusOK, &page)
		if page.Count != 0 {
			t.Fatalf("%d readings stored from rejected batches", page.Count)
		}
	})

	t.Run("Limits", func(t *testing.T) {
		t.Parallel()
		c := b.newTenant(t)
		d := c.createDevice(t, "TH-1")
		batch := path("/v1/devices/%d/readings/batch", d.ID)
		p := c.fail(t, http.MethodPost, batch, map[string]any{"readings": series(10_001, time.Now(), time.Second)}, http.StatusRequestEntityTooLarge)
		if p.Code != "too_large" {
			t.Errorf("10,001 readings = %+v", p)
		}
		pad := strings.Repeat(" ", 4<<20)
		c.fail(t, http.MethodPost, batch, `{"readings":[]`+pad+`}`, http.StatusRequestEntityTooLarge)
		c.fail(t, http.MethodPost, batch, `{"readings":[]}`, http.StatusUnprocessableEntity)
		c.fail(t, http.MethodPost, batch, `{"readings":[{"temperatureCelsius":20,"recordedAt":"yesterday"}]}`, http.StatusUnprocessableEntity)
		p = c.fail(t, http.MethodPost, path("/v1/devices/%d/readings", d.ID), `{"temperatureCelsius":20}`, http.StatusUnprocessableEntity)
		if len(p.Errors) != 1 || p.Errors[0].Field != "recordedAt" {
			t.Errorf("missing recordedAt = %+v", p)
		}
		p = c.fail(t, http.MethodPost, batch, `{"readings":[{"recordedAt":"2026-01-01T00:00:00Z"}]}`, http.StatusUnprocessableEntity)
		if len(p.Errors) != 1 || p.Errors[0].Field != "readings[0].temperatureCelsius" {
			t.Errorf("missing temperatureCelsius in a batch = %+v", p)
		}
		if res := c.postBatch(t, d.ID, series(10_000, time.Now(), time.Second)); res.Inserted != 10_000 {
			t.Errorf("10,000 readings = %+v", res)
		}
	})

	t.Run("UnknownAndInactiveDevice", func(t *testing.T) {
		t.Parallel()
		c := b.newTenant(t)
		d := c.createDevice(t, "TH-1")
		one := map[string]any{"temperatureCelsius": 20, "recordedAt": time.Now()}
		c.fail(t, http.MethodPost, path("/v1/devices/%d/readings", d.ID+1), one, http.StatusNotFound)
		c.call(t, http.MethodPost, path("/v1/devices/%d/deactivate", d.ID), nil, http.StatusOK, nil)
		p := c.fail(t, http.MethodPost, path("/v1/devices/%d/readings", d.ID), one, http.StatusConflict)
		if p.Code != "conflict" || !strings.Contains(p.Detail, "inactive") {
			t.Errorf("inactive = %+v", p)
		}
		c.fail(t, http.MethodPost, path("/v1/devices/%d/readings/batch", d.ID), map[string]any{"readings": []any{one}}, http.StatusConflict)
		c.call(t, http.MethodPatch, path("/v1/devices/%d", d.ID), map[string]any{"isActive": true}, http.StatusOK, nil)
		c.call(t, http.MethodPost, path("/v1/devices/%d/readings", d.ID), one, http.StatusCreated, nil)
	})
}

func TestQueries(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.newTenant(t)
	d := c.createDevice(t, "TH-1")
	quiet := c.createDevice(t, "TH-0")
	newest := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
	c.postBatch(t, d.ID, series(240, newest, 30*time.Second))

	t.Run("Latest", func(t *testing.T) {
		t.Parallel()
		var r reading
		c.call(t, http.MethodGet, path("/v1/devices/%d/readings/latest", d.ID), nil, http.StatusOK, &r)
		if !r.RecordedAt.Equal(newest) {
			t.Errorf("latest = %+v, want recorded at %v", r, newest)
		}
		c.fail(t, http.MethodGet, path("/v1/devices/%d/readings/latest", quiet.ID), nil, http.StatusNotFound)
		var all struct {
			Data []struct {
				Device  device   `json:"device"`
				Reading *reading `json:"reading"`
			} `json:"data"`
		}
		c.call(t, http.MethodGet, "/v1/readings/latest", nil, http.StatusOK, &all)
		if len(all.Data) != 2 || all.Data[0].Device.ID != quiet.ID || all.Data[0].Reading != nil ||
			all.Data[1].Reading == nil || all.Data[1].Reading.ID != r.ID {
			t.Errorf("latest of all = %+v", all)
		}
	})

	t.Run("HistoryFilters", func(t *testing.T) {
		t.Parallel()
		from := newest.Add(-30 * time.Minute)
		q := url.Values{"from": {from.Format(time.RFC3339)}, "to": {newest.Format(time.RFC3339)}, "minTemp": {"22"}, "limit": {"500"}}
		var page readingPage
		c.call(t, http.MethodGet, path("/v1/devices/%d/readings?%s", d.ID, q.Encode()), nil, http.StatusOK, &page)
		for _, r := range page.Data {
			if r.RecordedAt.Before(from) || !r.RecordedAt.Before(newest) || r.TemperatureCelsius < 22 {
				t.Errorf("reading %+v outside the filter", r)
			}
		}
		if page.Count != 30 || page.HasNextPage { // readings 1..60 are in range, 20..49 hot enough
			t.Errorf("filtered page: count %d, more %v; want 30, false", page.Count, page.HasNextPage)
		}
		c.fail(t, http.MethodGet, path("/v1/devices/%d/readings?limit=501", d.ID), nil, http.StatusUnprocessableEntity)
		c.fail(t, http.MethodGet, path("/v1/devices/%d/readings?minTemp=30&maxTemp=20", d.ID), nil, http.StatusUnprocessableEntity)
		c.fail(t, http.MethodGet, path("/v1/devices/%d/readings?from=soon", d.ID), nil, http.StatusUnprocessableEntity)
	})

	t.Run("BadCursors", func(t *testing.T) {
		t.Parallel()
		var page readingPage
		c.call(t, http.MethodGet, path("/v1/devices/%d/readings?limit=10", d.ID), nil, http.StatusOK, &page)
		raw, err := base64.RawURLEncoding.DecodeString(*page.NextCursor)
		if err != nil || len(raw) != 18 {
			t.Fatalf("cursor %q is not 18 bytes of base64url", *page.NextCursor)
		}
		otherKind := slices.Clone(raw)
		otherKind[1] = 'u'
		negative := slices.Clone(raw)
		negative[10] = 0xff
		for _, bad := range []string{"garbage!", "AAAA", *page.NextCursor + "A",
			base64.RawURLEncoding.EncodeToString(otherKind), base64.RawURLEncoding.EncodeToString(negative)} {
			p := c.fail(t, http.MethodGet, path("/v1/devices/%d/readings?cursor=%s", d.ID, url.QueryEscape(bad)), nil, http.StatusBadRequest)
			if p.Code != "invalid" || len(p.Errors) != 1 || p.Errors[0].Field != "cursor" {
				t.Errorf("cursor %q = %+v", bad, p)
			}
		}
		// A cursor of another device is refused, not silently reused.
		c.fail(t, http.MethodGet, path("/v1/devices/%d/readings?cursor=%s", quiet.ID, *page.NextCursor), nil, http.StatusBadRequest)
	})

	t.Run("Hourly", func(t *testing.T) {
		t.Parallel()
		var hourly struct {
			Data []struct {
				Hour          time.Time
				Count         int
				Avg, Min, Max *float64
			} `json:"data"`
		}
		c.call(t, http.MethodGet, path("/v1/devices/%d/readings/hourly?hours=6", d.ID), nil, http.StatusOK, &hourly)
		total := 0
		for _, h := range hourly.Data {
			total += h.Count
			if h.Count > 0 && (*h.Min > *h.Avg || *h.Avg > *h.Max) || h.Count == 0 && h.Avg != nil {
				t.Errorf("bucket %+v", h)
			}
		}
		if len(hourly.Data) != 6 || total != 240 {
			t.Errorf("hourly = %d buckets with %d readings, want 6 with 240", len(hourly.Data), total)
		}
		c.fail(t, http.MethodGet, path("/v1/devices/%d/readings/hourly?hours=0", d.ID), nil, http.StatusUnprocessableEntity)
		c.fail(t, http.MethodGet, path("/v1/devices/%d/readings/hourly?hours=169", d.ID), nil, http.StatusUnprocessableEntity)
		c.fail(t, http.MethodGet, path("/v1/devices/%d/readings/hourly", d.ID+100), nil, http.StatusNotFound)
	})
}

// TestCursorStableUnderInserts pages through a device's history while newer
// readings keep arriving, between pages and concurrently: every original
// reading is seen exactly once, in order.
func TestCursorStableUnderInserts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.newTenant(t)
	d := c.createDevice(t, "TH-1")
	start := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	c.postBatch(t, d.ID, series(300, start, time.Second))

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { // a device posting live readings the whole time
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			r := map[string]any{"temperatureCelsius": 25, "recordedAt": start.Add(time.Duration(i) * time.Second)}
			if status, body := c.do(t, http.MethodPost, path("/v1/devices/%d/readings", d.ID), r); status != http.StatusCreated && status != http.StatusOK {
				t.Errorf("live post = %d: %s", status, body)
				return
			}
		}
	})

	seen := map[time.Time]bool{}
	var last time.Time
	next := ""
	for pages := 0; ; pages++ {
		var page readingPage
		c.call(t, http.MethodGet, path("/v1/devices/%d/readings?limit=25%s", d.ID, next), nil, http.StatusOK, &page)
		for _, r := range page.Data {
			if seen[r.RecordedAt] {
				t.Fatalf("reading at %v repeated on page %d", r.RecordedAt, pages)
			}
			if pages > 0 && !r.RecordedAt.Before(last) {
				t.Fatalf("page %d not older than the previous: %v after %v", pages, r.RecordedAt, last)
			}
			seen[r.RecordedAt], last = true, r.RecordedAt
		}
		if !page.HasNextPage {
			break
		}
		// More readings between pages, all newer than anything paged so far.
		c.postBatch(t, d.ID, series(5, start.Add(time.Hour+time.Duration(pages)*10*time.Second), time.Second))
		next = "&cursor=" + url.QueryEscape(*page.NextCursor)
	}
	close(stop)
	wg.Wait()
	for i := range 300 {
		if !seen[start.Add(-time.Duration(i)*time.Second)] {
			t.Fatalf("reading %d (at %v) skipped", i, start.Add(-time.Duration(i)*time.Second))
		}
	}
}
