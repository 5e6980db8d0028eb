package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
)

// FuzzDecodeBatch holds decodeBatch to encoding/json: a syntax error
// exactly when the body is not JSON, and a batch it accepts decodes to the
// same readings.
func FuzzDecodeBatch(f *testing.F) {
	for _, s := range []string{
		`{"readings":[{"temperatureCelsius":20,"recordedAt":"2026-01-01T00:00:00Z"}]}`,
		`{"readings":[{"temperatureCelsius":-1.5e2,"humidity":null,"batteryLevel":0.5,"recordedAt":"2026-01-01T00:00:00.123+02:00"}]}`,
		`{"readings":[{"temperatureCelsius":1,"temperatureCelsius":2,"recordedAt":"2026-01-01T00:00:00\u005a"}]}`,
		`{"readings":[{"temperatureCelsius":"1","recordedAt":5,"x":{"a":[1,true,null]}}]}`,
		`{"read\u0069ngs":[], "extra": "\ud83d\ude00\ud800"}`,
		`{"readings":null}`, `[]`, `{"readings":[1,`, `{"readings":[01]}`, `{"readings":[-]}`, ` {} `, `"\u12"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, errs := decodeBatch(data)
		var be *bodyError
		syntax := len(errs) == 1 && errors.As(errs[0], &be) && be.status == http.StatusBadRequest
		if syntax == json.Valid(data) {
			t.Fatalf("syntax error %v, json.Valid %v for %q (errs %v)", syntax, json.Valid(data), data, errs)
		}
		if syntax || len(errs) > 0 {
			return
		}
		var want struct {
			Readings []struct {
				T, H, B *float64
				At      string // time.Time's UnmarshalJSON ignores escapes
			}
		}
		if err := json.Unmarshal(renameKeys(data), &want); err != nil {
			t.Fatalf("accepted %q, encoding/json: %v", data, err)
		}
		if len(rs) != len(want.Readings) {
			t.Fatalf("%d readings, encoding/json %d: %q", len(rs), len(want.Readings), data)
		}
		for i, w := range want.Readings {
			r := rs[i]
			var at time.Time
			if err := at.UnmarshalText([]byte(w.At)); err != nil || w.T == nil || r.TemperatureCelsius != *w.T ||
				!sameFloat(r.Humidity, w.H) || !sameFloat(r.BatteryLevel, w.B) || !r.RecordedAt.Equal(at) {
				t.Fatalf("readings[%d] = %+v, encoding/json %+v: %q", i, r, w, data)
			}
		}
	})
}

// renameKeys shortens the reading keys for the reference struct, which
// encoding/json would otherwise match case-insensitively. Only bodies
// decodeBatch accepted get here: their keys are exact.
func renameKeys(data []byte) []byte {
	return []byte(strings.NewReplacer(`"temperatureCelsius"`, `"T"`, `"humidity"`, `"H"`,
		`"batteryLevel"`, `"B"`, `"recordedAt"`, `"At"`).Replace(string(data)))
}

func sameFloat(a, b *float64) bool {
	return a == nil && b == nil || a != nil && b != nil && *a == *b
}

func TestDecodeBatch_Errors(t *testing.T) {
	t.Parallel()
	deep := `{"readings":[{"x":` + strings.Repeat("[", maxDecodeDepth+10) + strings.Repeat("]", maxDecodeDepth+10) + `}]}`
	for _, tt := range []struct{ body, want string }{
		{`{"readings":[{"temperatureCelsius":20}]}`, "422 body.readings[0]: expected required property recordedAt to be present"},
		{`{"readings":[{"temperatureCelsius":null,"recordedAt":"2026-01-01T00:00:00Z"}]}`, "422 body.readings[0].temperatureCelsius: expected number"},
		{`{"readings":[{"temperatureCelsius":1e999,"recordedAt":"2026-01-01T00:00:00Z"}]}`, "422 body.readings[0].temperatureCelsius: expected a number within float64 range"},
		{`{"readings":[{"temperatureCelsius":1,"recordedAt":"2026-01-01T24:00:00Z"}]}`, "422 body.readings[0].recordedAt: expected string to be RFC 3339 date-time"},
		{`{"readings":[{"temperatureCelsius":1,"recordedAt":"2026-01-01T00:00:00Z","t\u0065mperatureCelsius":2}]}`, ""},
		{`{"readings":[{"temperatureCelsius":1,"recordedAt":"2026-01-01T00:00:00Z","Humidity":2}]}`, "422 body.readings[0].Humidity: unexpected property"},
		{`{"readings":[{"temperatureCelsius":1,"recordedAt":"2026-01-01T00:00:00Z"}],"readings2":1}`, "422 body.readings2: unexpected property"},
		{`{"readings":"all"}`, "422 body.readings: expected array"},
		{`{"readings":[{"temperatureCelsius":1,"recordedAt":"2026-01-01T00:00:00Z"},[]]}`, "422 body.readings[1]: expected object"},
		{`[]`, "422 body: expected object"},
		{`{"readings":[{"temperatureCelsius":1,"recordedAt":"2026-01-01T00:00:00Z"}]`, "400 body: unexpected end of JSON input"},
		{`{"readings":[{"temperatureCelsius":01,"recordedAt":"2026-01-01T00:00:00Z"}]}`, "400 body: invalid character '1' after object key:value pair (offset 36)"},
		{"{\"readings\":[{\"temperatureCelsius\":1,\"recordedAt\":\"\x01\"}]}", `400 body: invalid character '\x01' in string literal (offset 51)`},
		{deep, "400 body: exceeded max depth"},
	} {
		rs, errs := decodeBatch([]byte(tt.body))
		var got []string
		for _, err := range errs {
			status := http.StatusUnprocessableEntity
			var be *bodyError
			if errors.As(err, &be) {
				status = be.status
			}
			var d huma.ErrorDetailer
			if !errors.As(err, &d) {
				t.Fatalf("%.60s: %T is not a huma.ErrorDetailer", tt.body, err)
			}
			got = append(got, fmt.Sprintf("%d %s: %s", status, d.ErrorDetail().Location, d.ErrorDetail().Message))
		}
		if strings.Join(got, "; ") != tt.want {
			t.Errorf("%.60s: errors %q, want %q", tt.body, got, tt.want)
		}
		if tt.want == "" && (len(rs) != 1 || rs[0].TemperatureCelsius != 2) {
			t.Errorf("%.60s: readings %+v, want the last temperatureCelsius", tt.body, rs)
		}
	}
}

func BenchmarkDecodeBatch(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"readings":[`)
	at := time.Date(2026, 3, 28, 10, 30, 0, 0, time.UTC)
	for i := range 1000 {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"temperatureCelsius":%v,"humidity":%v,"batteryLevel":%v,"recordedAt":"%s"}`,
			18+math.Sin(float64(i))*8, 45.123456789012+float64(i)/1000, 0.7512345678901, at.Add(-time.Duration(i)*time.Millisecond).Format(time.RFC3339Nano))
	}
	sb.WriteString(`]}`)
	body := []byte(sb.String())
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, errs := decodeBatch(body); errs != nil {
			b.Fatal(errs)
		}
	}
}
