package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
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

// batchReading is a valid reading of a batch body.
const batchReading = `{"temperatureCelsius":20,"recordedAt":"2026-01-01T00:00:00Z"}`

// batchBody is a batch of n valid readings with extra inserted after them.
func batchBody(n int, extra ...string) string {
	rs := slices.Repeat([]string{batchReading}, n)
	return `{"readings":[` + strings.Join(append(rs, extra...), ",") + `]}`
}

// TestIngestReadings_Rejections posts bad batches: each is a problem naming
// the bad fields, and nothing reaches the store. The mock validates like
// the real service, so domain checks (ranges, size) answer too.
func TestIngestReadings_Rejections(t *testing.T) {
	t.Parallel()
	var stored atomic.Int32
	b := setup(t, withReadings(&mock.ReadingService{
		IngestReadingsFn: func(_ context.Context, _ int64, rs []thermo.Reading) (*thermo.IngestResult, error) {
			if err := thermo.ValidateReadings(rs, time.Now()); err != nil {
				return nil, err
			}
			stored.Add(1)
			return &thermo.IngestResult{Received: len(rs), Inserted: len(rs)}, nil
		},
	}))
	for _, tt := range []struct {
		name, body string
		status     int
		fields     string // field@location, sorted
	}{
		{"MissingTemperature", batchBody(3, `{"recordedAt":"2026-01-01T00:00:01Z"}`), 422, "readings[3].temperatureCelsius@body"},
		{"NullTemperature", batchBody(3, `{"temperatureCelsius":null,"recordedAt":"2026-01-01T00:00:01Z"}`), 422, "readings[3].temperatureCelsius@body"},
		{"MissingRecordedAt", batchBody(1, `{"temperatureCelsius":20}`), 422, "readings[1].recordedAt@body"},
		{"BothMissing", batchBody(0, `{"humidity":50}`), 422, "readings[0].recordedAt@body readings[0].temperatureCelsius@body"},
		{"TemperatureString", batchBody(0, `{"temperatureCelsius":"20","recordedAt":"2026-01-01T00:00:00Z"}`), 422, "readings[0].temperatureCelsius@body"},
		{"HumidityBool", batchBody(0, `{"temperatureCelsius":20,"humidity":true,"recordedAt":"2026-01-01T00:00:00Z"}`), 422, "readings[0].humidity@body"},
		{"RecordedAtNumber", batchBody(2, `{"temperatureCelsius":20,"recordedAt":1767225600}`), 422, "readings[2].recordedAt@body"},
		{"RecordedAtNotRFC3339", batchBody(0, `{"temperatureCelsius":20,"recordedAt":"yesterday"}`), 422, "readings[0].recordedAt@body"},
		{"ReadingNotObject", batchBody(1, `[]`), 422, "readings[1]@body"},
		{"ReadingsNotArray", `{"readings":{}}`, 422, "readings@body"},
		{"ReadingsMissing", `{}`, 422, "readings@body"},
		{"UnknownReadingField", batchBody(1, `{"temperatureCelsius":20,"recordedAt":"2026-01-01T00:00:00Z","deviceId":9}`), 422, "readings[1].deviceId@body"},
		{"CaseVariantField", batchBody(0, `{"temperatureCelsius":20,"recordedAt":"2026-01-01T00:00:00Z","TEMPERATURECELSIUS":5000}`), 422, "readings[0].TEMPERATURECELSIUS@body"},
		{"UnknownTopField", `{"readings":[` + batchReading + `],"tenantId":"other"}`, 422, "tenantId@body"},
		{"Malformed", `{"readings":[` + batchReading, 400, "@body"},
		{"TrailingData", batchBody(1) + `{}`, 400, "@body"},
		{"OutOfRange", batchBody(0, `{"temperatureCelsius":20,"humidity":101,"recordedAt":"2026-01-01T00:00:00Z"}`), 422, "readings[0].humidity@"},
		{"Empty", `{"readings":[]}`, 422, "readings@"},
		{"TooMany", batchBody(thermo.MaxBatchReadings + 1), 413, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, body := b.do(t, http.MethodPost, "/v1/devices/7/readings/batch", tt.body, authed()...)
			p := wantProblemFields(t, resp, body, tt.status, tt.fields)
			for _, e := range p.Errors {
				if e.Reason == "" {
					t.Errorf("field %s has no reason: %s", e.Field, body)
				}
			}
		})
	}
	t.Run("NotJSON", func(t *testing.T) {
		t.Parallel()
		resp, body := b.do(t, http.MethodPost, "/v1/devices/7/readings/batch", batchBody(1), authed("Content-Type", "text/plain")...)
		decodeProblem(t, resp, body, http.StatusUnsupportedMediaType)
	})
	t.Cleanup(func() {
		if n := stored.Load(); n != 0 {
			t.Errorf("%d rejected batches reached the store", n)
		}
	})
}

// TestIngestReadings_Decodes checks that the readings reach the service
// exactly as posted: absent and null optional fields are nil, escapes and
// offsets are honoured, the last of a repeated key wins.
func TestIngestReadings_Decodes(t *testing.T) {
	t.Parallel()
	var got []thermo.Reading
	b := setup(t, withReadings(&mock.ReadingService{
		IngestReadingsFn: func(_ context.Context, deviceID int64, rs []thermo.Reading) (*thermo.IngestResult, error) {
			if deviceID != 7 {
				t.Errorf("deviceID = %d", deviceID)
			}
			got = rs
			return &thermo.IngestResult{Received: len(rs), Inserted: len(rs) - 1, Duplicates: 1}, nil
		},
	}))
	resp, body := b.do(t, http.MethodPost, "/v1/devices/7/readings/batch", ` {"readings": [
		{"temperatureCelsius": -12.5e-1, "recordedAt": "2026-03-28T10:30:00.123456789+02:00"},
		{"temperatureCelsius": 0, "humidity": null, "batteryLevel": 0.25, "recordedAt": "2026-03-28T10:30:00\u005a"},
		{"humidity": 45.5, "temperatureCelsius": 99, "temperatureCelsius": 21.5, "recordedAt": "2026-03-28T10:31:00Z"}
	]} `, authed("Content-Type", "application/json; charset=utf-8")...)
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != `{"received":3,"inserted":2,"duplicates":1}` {
		t.Fatalf("= %d %s", resp.StatusCode, body)
	}
	at := time.Date(2026, 3, 28, 10, 30, 0, 0, time.UTC)
	ptr := func(v float64) *float64 { return &v }
	want := []thermo.Reading{
		{TemperatureCelsius: -1.25, RecordedAt: at.Add(-2*time.Hour + 123456789)},
		{TemperatureCelsius: 0, BatteryLevel: ptr(0.25), RecordedAt: at},
		{TemperatureCelsius: 21.5, Humidity: ptr(45.5), RecordedAt: at.Add(time.Minute)},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d readings, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.TemperatureCelsius != w.TemperatureCelsius || !g.RecordedAt.Equal(w.RecordedAt) ||
			fmt.Sprint(deref(g.Humidity), deref(g.BatteryLevel)) != fmt.Sprint(deref(w.Humidity), deref(w.BatteryLevel)) {
			t.Errorf("readings[%d] = %+v, want %+v", i, g, w)
		}
	}
}

// deref shows a nil *float64 as nil.
func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

// TestIngestReading_Rejections: the single-reading body gets the batch's
// decoder checks, at body.field, and nothing rejected reaches the store.
func TestIngestReading_Rejections(t *testing.T) {
	t.Parallel()
	var stored atomic.Int32
	b := setup(t, withReadings(&mock.ReadingService{
		IngestReadingFn: func(_ context.Context, _ int64, r *thermo.Reading) (bool, error) {
			if errs := r.Validate(time.Now(), ""); len(errs) > 0 {
				return false, thermo.InvalidFields(errs...)
			}
			stored.Add(1)
			return true, nil
		},
	}))
	for _, tt := range []struct {
		name, body string
		status     int
		fields     string // field@location, sorted
	}{
		{"MissingTemperature", `{"recordedAt":"2026-01-01T00:00:01Z"}`, 422, "temperatureCelsius@body"},
		{"NullTemperature", `{"temperatureCelsius":null,"recordedAt":"2026-01-01T00:00:01Z"}`, 422, "temperatureCelsius@body"},
		{"BothMissing", `{"humidity":50}`, 422, "recordedAt@body temperatureCelsius@body"},
		{"TemperatureString", `{"temperatureCelsius":"20","recordedAt":"2026-01-01T00:00:00Z"}`, 422, "temperatureCelsius@body"},
		{"RecordedAtNotRFC3339", `{"temperatureCelsius":20,"recordedAt":"yesterday"}`, 422, "recordedAt@body"},
		{"UnknownField", `{"temperatureCelsius":20,"recordedAt":"2026-01-01T00:00:00Z","deviceId":9}`, 422, "deviceId@body"},
		{"CaseVariantField", `{"temperatureCelsius":20,"recordedAt":"2026-01-01T00:00:00Z","TemperatureCelsius":5000}`, 422, "TemperatureCelsius@body"},
		{"NotObject", `[1]`, 422, "@body"},
		{"Malformed", `{"temperatureCelsius":20,`, 400, "@body"},
		{"TrailingData", `{"temperatureCelsius":20,"recordedAt":"2026-01-01T00:00:00Z"}{}`, 400, "@body"},
		{"OutOfRange", `{"temperatureCelsius":1001,"recordedAt":"2026-01-01T00:00:00Z"}`, 422, "temperatureCelsius@"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, body := b.do(t, http.MethodPost, "/v1/devices/7/readings", tt.body, authed()...)
			wantProblemFields(t, resp, body, tt.status, tt.fields)
		})
	}
	t.Run("NotJSON", func(t *testing.T) {
		t.Parallel()
		resp, body := b.do(t, http.MethodPost, "/v1/devices/7/readings", `{"temperatureCelsius":20,"recordedAt":"2026-01-01T00:00:00Z"}`,
			authed("Content-Type", "text/plain")...)
		decodeProblem(t, resp, body, http.StatusUnsupportedMediaType)
	})
	t.Cleanup(func() {
		if n := stored.Load(); n != 0 {
			t.Errorf("%d rejected readings reached the store", n)
		}
	})
}

// wantProblemFields checks a problem's status and its field errors, as
// sorted "field@location" joined by spaces.
func wantProblemFields(t *testing.T, resp *http.Response, body []byte, status int, fields string) problem {
	t.Helper()
	p := decodeProblem(t, resp, body, status)
	var got []string
	for _, e := range p.Errors {
		got = append(got, e.Field+"@"+e.Location)
	}
	slices.Sort(got)
	if strings.Join(got, " ") != fields {
		t.Errorf("fields = %v, want %s: %s", got, fields, body)
	}
	return p
}
