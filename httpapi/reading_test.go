package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/thermo/thermo"
	"github.com/thermo/thermo/mock"
)

// withReadings serves rs as the reading service.
func withReadings(rs *mock.ReadingService) func(*testBundle) {
	return func(b *testBundle) { b.opts.Readings = rs }
}

func TestIngestReading_StatusTellsDuplicate(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 28, 10, 30, 0, 0, time.UTC)
	for _, tt := range []struct {
		created bool
		status  int
	}{{true, http.StatusCreated}, {false, http.StatusOK}} {
		b := setup(t, withReadings(&mock.ReadingService{
			IngestReadingFn: func(_ context.Context, deviceID int64, r *thermo.Reading) (bool, error) {
				if deviceID != 7 || r.TemperatureCelsius != 23.5 || r.Humidity != nil || !r.RecordedAt.Equal(at) {
					t.Errorf("IngestReading(%d, %+v)", deviceID, r)
				}
				r.ID, r.DeviceID = 42, deviceID
				return tt.created, nil
			},
		}))
		resp, body := b.do(t, http.MethodPost, "/v1/devices/7/readings",
			`{"temperatureCelsius":23.5,"humidity":null,"recordedAt":"2026-03-28T10:30:00Z"}`, authed()...)
		var got struct {
			ID        int64 `json:"id"`
			Duplicate bool  `json:"duplicate"`
		}
		if err := json.Unmarshal(body, &got); err != nil || resp.StatusCode != tt.status || got.ID != 42 || got.Duplicate == tt.created {
			t.Errorf("created=%v: %d %s", tt.created, resp.StatusCode, body)
		}
	}
}

func TestListReadings_Cursor(t *testing.T) {
	t.Parallel()
	newest := time.Date(2026, 3, 28, 10, 30, 0, 123456000, time.UTC)
	var sawBefore time.Time
	b := setup(t, withReadings(&mock.ReadingService{
		FindReadingsFn: func(_ context.Context, deviceID int64, f thermo.ReadingFilter) ([]*thermo.Reading, bool, error) {
			sawBefore = f.Before
			if f.Limit != 2 || f.MinTemp == nil || *f.MinTemp != 0 || f.MaxTemp != nil {
				t.Errorf("filter = %+v", f)
			}
			return []*thermo.Reading{
				{ID: 2, DeviceID: deviceID, RecordedAt: newest},
				{ID: 1, DeviceID: deviceID, RecordedAt: newest.Add(-time.Second)},
			}, true, nil
		},
	}))
	resp, body := b.do(t, http.MethodGet, "/v1/devices/7/readings?limit=2&minTemp=0", "", authed()...)
	var page struct {
		NextCursor  string `json:"nextCursor"`
		HasNextPage bool   `json:"hasNextPage"`
		Count       int    `json:"count"`
	}
	if err := json.Unmarshal(body, &page); err != nil || resp.StatusCode != http.StatusOK || !page.HasNextPage || page.Count != 2 {
		t.Fatalf("page = %d %s", resp.StatusCode, body)
	}
	resp, body = b.do(t, http.MethodGet, "/v1/devices/7/readings?limit=2&minTemp=0&cursor="+url.QueryEscape(page.NextCursor), "", authed()...)
	if resp.StatusCode != http.StatusOK || !sawBefore.Equal(newest.Add(-time.Second)) {
		t.Fatalf("next page = %d, Before = %v; want the last reading's instant: %s", resp.StatusCode, sawBefore, body)
	}
	// The same cursor on another device's history is refused.
	resp, body = b.do(t, http.MethodGet, "/v1/devices/8/readings?cursor="+url.QueryEscape(page.NextCursor), "", authed()...)
	p := decodeProblem(t, resp, body, http.StatusBadRequest)
	if p.Code != "invalid" || len(p.Errors) != 1 || p.Errors[0].Field != "cursor" || p.Errors[0].Location != "query" {
		t.Errorf("problem = %+v", p)
	}
}

func TestExportReadings_Errors(t *testing.T) {
	t.Parallel()
	b := setup(t, withReadings(&mock.ReadingService{
		ExportReadingsFn: func(_ context.Context, deviceID int64, _ thermo.ReadingFilter, fn func(*thermo.Reading) error) error {
			if deviceID == 404 {
				return thermo.Errorf(thermo.ENOTFOUND, "Device 404 not found.")
			}
			for i := range 2500 { // past two flushes (every 1000 rows)
				if err := fn(&thermo.Reading{ID: int64(i + 1), DeviceID: deviceID, RecordedAt: time.Unix(int64(i), 0)}); err != nil {
					return err
				}
			}
			return errors.New("replica connection lost")
		},
	}))

	t.Run("BeforeFirstRowIsAProblem", func(t *testing.T) {
		t.Parallel()
		resp, body := b.do(t, http.MethodGet, "/v1/devices/404/readings/export", "", authed()...)
		if p := decodeProblem(t, resp, body, http.StatusNotFound); p.Detail != "Device 404 not found." {
			t.Errorf("problem = %+v", p)
		}
	})

	t.Run("MidStreamAbortsTheConnection", func(t *testing.T) {
		t.Parallel()
		req, _ := http.NewRequest(http.MethodGet, b.url+"/v1/devices/7/readings/export?format=ndjson", nil)
		req.Header.Set("Authorization", "Bearer "+goodToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err == nil {
			t.Fatalf("export body read cleanly (%d bytes); a failed export must not look complete", len(body))
		}
		if rows := strings.Count(string(body), "\n"); resp.StatusCode != http.StatusOK || rows < 2000 || rows >= 2500 {
			t.Errorf("status %d, %d rows: want the flushed rows, then the abort", resp.StatusCode, rows)
		}
		b.logs.waitRecord(t, func(r map[string]any) bool { return r["msg"] == "export failed mid-stream" })
	})
}
