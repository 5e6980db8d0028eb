package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/thermo/thermo/httpapi"
)

func TestRequestID(t *testing.T) {
	t.Parallel()
	b := setup(t)

	t.Run("AcceptedAndEchoed", func(t *testing.T) {
		t.Parallel()
		const id = "client-abc.123:XYZ_-"
		resp, _ := b.do(t, http.MethodGet, "/healthz", "", httpapi.HeaderRequestID, id)
		if got := resp.Header.Get(httpapi.HeaderRequestID); got != id {
			t.Fatalf("X-Request-Id = %q, want %q", got, id)
		}
	})
	for name, id := range map[string]string{
		"Malformed": "bad id\twith spaces",
		"Injection": "abc\"}",
		"TooLong":   strings.Repeat("a", 129),
		"Missing":   "",
	} {
		t.Run(name+"Replaced", func(t *testing.T) {
			t.Parallel()
			resp, _ := b.do(t, http.MethodGet, "/healthz", "", httpapi.HeaderRequestID, id)
			got := resp.Header.Get(httpapi.HeaderRequestID)
			u, err := uuid.Parse(got)
			if err != nil || u.Version() != 7 || got == id {
				t.Fatalf("X-Request-Id = %q (%v), want a fresh UUIDv7", got, err)
			}
		})
	}
	t.Run("MaxLengthAccepted", func(t *testing.T) {
		t.Parallel()
		id := strings.Repeat("a", 128)
		resp, _ := b.do(t, http.MethodGet, "/healthz", "", httpapi.HeaderRequestID, id)
		if got := resp.Header.Get(httpapi.HeaderRequestID); got != id {
			t.Fatalf("X-Request-Id = %q, want the 128-char id", got)
		}
	})
	t.Run("OnErrorResponse", func(t *testing.T) {
		t.Parallel()
		resp, body := b.do(t, http.MethodGet, "/v1/tenant", "", httpapi.HeaderRequestID, "err-req-1")
		p := decodeProblem(t, resp, body, http.StatusUnauthorized)
		if p.RequestID != "err-req-1" {
			t.Fatalf("requestId = %q, want err-req-1", p.RequestID)
		}
	})
	t.Run("OnPanicResponse", func(t *testing.T) {
		t.Parallel()
		resp, body := b.do(t, http.MethodGet, "/test/panic", "", httpapi.HeaderRequestID, "panic-req-1")
		p := decodeProblem(t, resp, body, http.StatusInternalServerError)
		if p.RequestID != "panic-req-1" {
			t.Fatalf("requestId = %q, want panic-req-1", p.RequestID)
		}
	})
}

func TestPanicRecovery(t *testing.T) {
	t.Parallel()
	b := setup(t)
	resp, body := b.do(t, http.MethodGet, "/test/panic", "")
	p := decodeProblem(t, resp, body, http.StatusInternalServerError)
	if p.Code != "internal" || p.Detail != "Internal error." {
		t.Errorf("code/detail = %q/%q, want internal/Internal error.", p.Code, p.Detail)
	}
	if resp.Header.Get("X-Leaky") != "" {
		t.Error("headers set before the panic were sent with the 500")
	}
	if strings.Contains(string(body), "secret-panic-text") || strings.Contains(string(body), "goroutine") {
		t.Errorf("panic details leaked to the client: %s", body)
	}
	rec := b.logs.waitRecord(t, func(r map[string]any) bool { return r["msg"] == "panic serving request" })
	if rec["panic"] != "secret-panic-text" || rec["request_id"] != p.RequestID {
		t.Errorf("panic log = %v, want panic text and request_id %q", rec, p.RequestID)
	}
	if stack, _ := rec["stack"].(string); !strings.Contains(stack, "goroutine") {
		t.Errorf("panic log has no stack: %v", rec)
	}
	// The server keeps serving.
	if resp, _ := b.do(t, http.MethodGet, "/healthz", ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("after panic: /healthz = %d", resp.StatusCode)
	}
}

func TestAccessLog(t *testing.T) {
	t.Parallel()
	b := setup(t)
	resp, body := b.do(t, http.MethodGet, "/v1/test/whoami", "", authed(httpapi.HeaderRequestID, "log-req-1")...)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d: %s", resp.StatusCode, body)
	}
	rec := b.logs.waitRecord(t, func(r map[string]any) bool {
		return r["msg"] == "http request" && r["request_id"] == "log-req-1"
	})
	want := map[string]any{
		"method":     "GET",
		"route":      "/v1/test/whoami",
		"path":       "/v1/test/whoami",
		"status":     float64(200),
		"db_queries": float64(3),
		"tenant":     testTenant,
		"sub":        "user-1",
		"bytes":      float64(len(body)),
	}
	for k, v := range want {
		if rec[k] != v {
			t.Errorf("access log %s = %v (%T), want %v", k, rec[k], rec[k], v)
		}
	}
	if _, ok := rec["duration_ms"].(float64); !ok {
		t.Errorf("access log has no numeric duration_ms: %v", rec)
	}

	// An unmatched path is logged under one route label, not its raw path.
	b.do(t, http.MethodGet, "/nope/123", "", httpapi.HeaderRequestID, "log-req-2")
	rec = b.logs.waitRecord(t, func(r map[string]any) bool { return r["request_id"] == "log-req-2" })
	if rec["route"] != "unmatched" || rec["status"] != float64(404) {
		t.Errorf("unmatched access log = %v, want route unmatched, status 404", rec)
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.do(t, http.MethodGet, "/v1/tenant", "", authed()...)
	b.do(t, http.MethodGet, "/v1/tenant", "")
	b.do(t, http.MethodGet, "/nope/1", "")
	b.do(t, http.MethodGet, "/nope/2", "")

	want := []string{
		`thermo_http_requests_total{method="GET",route="/v1/tenant",status="200"} 1`,
		`thermo_http_requests_total{method="GET",route="/v1/tenant",status="401"} 1`,
		`thermo_http_requests_total{method="GET",route="unmatched",status="404"} 2`,
		`thermo_http_request_duration_seconds_count{method="GET",route="/v1/tenant"} 2`,
	}
	resp, body := b.do(t, http.MethodGet, "/metrics", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics status = %d", resp.StatusCode)
	}
	for _, w := range want {
		if !strings.Contains(string(body), w) {
			t.Errorf("/metrics lacks %q", w)
		}
	}
	if strings.Contains(string(body), "/nope/") {
		t.Error("/metrics labels contain a raw path")
	}
}
