package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/thermo/thermo"
	"github.com/thermo/thermo/httpapi"
	"github.com/thermo/thermo/internal/logbuf"
	"github.com/thermo/thermo/mock"
)

const (
	goodToken  = "good-token"
	testTenant = "acme"
)

// testBundle is what a test gets from setup: the served handler, its URL,
// the mocks behind it and the captured log.
type testBundle struct {
	opts     httpapi.ServerOpts
	srv      *httpapi.Server
	url      string
	verifier *mock.TokenVerifier
	tenants  *mock.TenantService
	logs     *syncBuffer

	ensured      sync.Map // tenant id → number of EnsureTenant calls (*atomic.Int32)
	sleepStarted chan struct{}
	sleepDone    atomic.Bool
}

// setup builds a Server with accepting mocks, registers the test-only
// operations and serves it with httptest. Options run before the server is
// built, so they may replace mock funcs or server options without races.
func setup(t *testing.T, options ...func(*testBundle)) *testBundle {
	t.Helper()
	b := &testBundle{logs: &syncBuffer{}, sleepStarted: make(chan struct{}, 1)}
	b.verifier = &mock.TokenVerifier{VerifyTokenFn: func(_ context.Context, raw string) (thermo.Principal, error) {
		if raw != goodToken {
			return thermo.Principal{}, thermo.Errorf(thermo.EUNAUTHORIZED, "Token has expired.")
		}
		return thermo.Principal{Subject: "user-1", TenantID: testTenant, Issuer: "https://issuer.test"}, nil
	}}
	b.tenants = &mock.TenantService{
		EnsureTenantFn: func(_ context.Context, id string) error {
			n, _ := b.ensured.LoadOrStore(id, &atomic.Int32{})
			n.(*atomic.Int32).Add(1)
			return nil
		},
		FindTenantByIDFn: func(_ context.Context, id string) (*thermo.Tenant, error) {
			return &thermo.Tenant{
				ID: id, Name: "Acme Towers", TimeZone: "Europe/Berlin", RetentionDays: 90,
				CreatedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
			}, nil
		},
	}
	b.opts = httpapi.ServerOpts{
		Logger:          slog.New(thermo.NewLogHandler(slog.NewJSONHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
		Verifier:        b.verifier,
		Tenants:         b.tenants,
		Registry:        prometheus.NewRegistry(),
		Version:         "test",
		ShutdownTimeout: 5 * time.Second,
	}
	for _, o := range options {
		o(b)
	}
	b.srv = httpapi.NewServer(b.opts)
	registerTestOperations(b)
	ts := httptest.NewServer(b.srv.Handler())
	t.Cleanup(ts.Close)
	b.url = ts.URL
	return b
}

func (b *testBundle) ensureCalls(id string) int32 {
	n, ok := b.ensured.Load(id)
	if !ok {
		return 0
	}
	return n.(*atomic.Int32).Load()
}

type readingInput struct {
	Body struct {
		DeviceID           int64   `json:"deviceId" minimum:"1"`
		TemperatureCelsius float64 `json:"temperatureCelsius" minimum:"-273.15" maximum:"1000"`
	}
}

type readingOutput struct {
	Body struct {
		DeviceID           int64   `json:"deviceId"`
		TemperatureCelsius float64 `json:"temperatureCelsius"`
	}
}

type whoamiOutput struct {
	Body struct {
		Subject string `json:"subject"`
		Tenant  string `json:"tenant"`
	}
}

type failInput struct {
	Kind string `query:"kind"`
}

type okOutput struct {
	Body struct {
		OK bool `json:"ok"`
	}
}

// registerTestOperations adds operations that exist only in tests: a POST
// with a validated body (no real POST exists yet), error and panic sources,
// and a slow handler for the shutdown test.
func registerTestOperations(b *testBundle) {
	api := b.srv.API()
	huma.Register(api, huma.Operation{OperationID: "test-create-reading", Method: http.MethodPost, Path: "/v1/test/readings"},
		func(_ context.Context, in *readingInput) (*readingOutput, error) {
			out := &readingOutput{}
			out.Body.DeviceID, out.Body.TemperatureCelsius = in.Body.DeviceID, in.Body.TemperatureCelsius
			return out, nil
		})
	huma.Register(api, huma.Operation{OperationID: "test-whoami", Method: http.MethodGet, Path: "/v1/test/whoami"},
		func(ctx context.Context, _ *struct{}) (*whoamiOutput, error) {
			out := &whoamiOutput{}
			if p, ok := thermo.PrincipalFromContext(ctx); ok {
				out.Body.Subject = p.Subject
			}
			out.Body.Tenant = thermo.TenantFromContext(ctx)
			for range 3 {
				thermo.QueryStatsFromContext(ctx).Record("SELECT 1", 10)
			}
			return out, nil
		})
	huma.Register(api, huma.Operation{OperationID: "test-fail", Method: http.MethodGet, Path: "/v1/test/fail"},
		func(_ context.Context, in *failInput) (*okOutput, error) {
			switch in.Kind {
			case "notfound":
				return nil, fmt.Errorf("find device: %w", thermo.Errorf(thermo.ENOTFOUND, "Device 7 not found."))
			case "fields":
				return nil, thermo.InvalidFields(
					thermo.FieldError{Field: "humidity", Reason: "must be between 0 and 100"},
					thermo.FieldError{Field: "battery", Reason: "must be between 0 and 1"})
			case "thermo-internal":
				return nil, thermo.Errorf(thermo.EINTERNAL, "pool exhausted on db-primary-7")
			case "huma":
				return nil, huma.Error409Conflict("Version mismatch.")
			default:
				return nil, fmt.Errorf("query: %w", errors.New("dial tcp 10.0.0.5:5432: password=hunter2 refused"))
			}
		})
	leaky := func(ctx huma.Context, next func(huma.Context)) {
		ctx.SetHeader("X-Leaky", "set-before-panic")
		next(ctx)
	}
	huma.Register(api, huma.Operation{OperationID: "test-panic", Method: http.MethodGet, Path: "/test/panic",
		Middlewares: huma.Middlewares{leaky}},
		func(context.Context, *struct{}) (*okOutput, error) {
			panic("secret-panic-text")
		})
	huma.Register(api, huma.Operation{OperationID: "test-sleep", Method: http.MethodGet, Path: "/test/sleep"},
		func(ctx context.Context, _ *struct{}) (*okOutput, error) {
			b.sleepStarted <- struct{}{}
			select { // like a DB query: aborted if the request context ends
			case <-time.After(300 * time.Millisecond):
			case <-ctx.Done():
				return nil, fmt.Errorf("slow work: %w", ctx.Err())
			}
			b.sleepDone.Store(true)
			out := &okOutput{}
			out.Body.OK = true
			return out, nil
		})
}

// do sends a request and returns the response with its body read.
func (b *testBundle) do(t *testing.T, method, path, body string, header ...string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, b.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, data
}

// authed returns header arguments for do carrying the good token.
func authed(extra ...string) []string {
	return append([]string{"Authorization", "Bearer " + goodToken}, extra...)
}

// problem mirrors httpapi.Problem for decoding with unknown-field checks.
type problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	Code      string `json:"code"`
	RequestID string `json:"requestId"`
	Errors    []struct {
		Field    string `json:"field"`
		Reason   string `json:"reason"`
		Location string `json:"location"`
	} `json:"errors"`
}

// decodeProblem checks status, content type and request id of a problem
// response and returns it decoded.
func decodeProblem(t *testing.T, resp *http.Response, body []byte, status int) problem {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status = %d, want %d; body: %s", resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json", ct)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	var p problem
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("decode problem %s: %v", body, err)
	}
	if p.Status != status || p.Type != "about:blank" || p.Title != http.StatusText(status) {
		t.Errorf("problem type/title/status = %q/%q/%d, want about:blank/%q/%d", p.Type, p.Title, p.Status, http.StatusText(status), status)
	}
	if id := resp.Header.Get(httpapi.HeaderRequestID); id == "" || p.RequestID != id {
		t.Errorf("problem requestId = %q, header %q; want equal and non-empty", p.RequestID, id)
	}
	return p
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct{ logbuf.Buffer }

// records returns the JSON log records written so far.
func (s *syncBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	data := s.String()
	var out []map[string]any
	for line := range strings.Lines(data) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// waitRecord polls the log for a record matching match: the access log line
// is written after the response, so it may trail the client by a moment.
func (s *syncBuffer) waitRecord(t *testing.T, match func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		for _, r := range s.records(t) {
			if match(r) {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no matching log record in:\n%s", s.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
