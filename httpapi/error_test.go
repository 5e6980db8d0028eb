package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/thermo/thermo"
)

func TestBody_TooLarge(t *testing.T) {
	t.Parallel()
	b := setup(t)
	big := `{"deviceId":1,"temperatureCelsius":20,"pad":"` + strings.Repeat("x", 1<<20) + `"}`
	resp, body := b.do(t, http.MethodPost, "/v1/test/readings", big, authed()...)
	p := decodeProblem(t, resp, body, http.StatusRequestEntityTooLarge)
	if p.Code != "too_large" {
		t.Errorf("code = %q, want too_large", p.Code)
	}
}

func TestBody_UnknownFieldRejected(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for name, tt := range map[string]struct{ body, field string }{
		"Extra":       {`{"deviceId":1,"temperatureCelsius":20,"tenantId":"other"}`, "tenantId"},
		"CaseVariant": {`{"deviceId":1,"temperatureCelsius":20,"TEMPERATURECELSIUS":5000}`, "TEMPERATURECELSIUS"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			resp, body := b.do(t, http.MethodPost, "/v1/test/readings", tt.body, authed()...)
			p := decodeProblem(t, resp, body, http.StatusUnprocessableEntity)
			if p.Code != "invalid" || len(p.Errors) != 1 {
				t.Fatalf("problem = %+v, want code invalid with one field error", p)
			}
			e := p.Errors[0]
			if e.Field != tt.field || e.Location != "body" || e.Reason != "unexpected property" {
				t.Errorf("field error = %+v, want {%s unexpected property body}", e, tt.field)
			}
		})
	}
}

func TestBody_ValidationErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	resp, body := b.do(t, http.MethodPost, "/v1/test/readings", `{"deviceId":0,"temperatureCelsius":1200.5}`, authed()...)
	p := decodeProblem(t, resp, body, http.StatusUnprocessableEntity)
	if p.Code != "invalid" {
		t.Errorf("code = %q, want invalid", p.Code)
	}
	got := map[string]string{}
	for _, e := range p.Errors {
		if e.Location != "body" {
			t.Errorf("location of %q = %q, want body", e.Field, e.Location)
		}
		got[e.Field] = e.Reason
	}
	if len(got) != 2 || !strings.Contains(got["temperatureCelsius"], "1000") || !strings.Contains(got["deviceId"], "1") {
		t.Errorf("field errors = %v, want deviceId and temperatureCelsius", got)
	}
	if strings.Contains(string(body), "1200.5") {
		t.Errorf("rejected value echoed back: %s", body)
	}
}

func TestBody_Malformed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	resp, body := b.do(t, http.MethodPost, "/v1/test/readings", `{"deviceId":1,`, authed()...)
	p := decodeProblem(t, resp, body, http.StatusBadRequest)
	if p.Code != "invalid" || len(p.Errors) != 1 || p.Errors[0].Location != "body" {
		t.Errorf("problem = %+v, want invalid with a body error", p)
	}
}

func TestBody_Accepted(t *testing.T) {
	t.Parallel()
	b := setup(t)
	resp, body := b.do(t, http.MethodPost, "/v1/test/readings", `{"deviceId":7,"temperatureCelsius":21.5}`, authed()...)
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != `{"deviceId":7,"temperatureCelsius":21.5}` {
		t.Fatalf("= %d %s, want 200 with the echoed reading", resp.StatusCode, body)
	}
}

func TestHandlerErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tt := range []struct {
		kind   string
		status int
		code   string
		detail string
		fields []string
	}{
		{"notfound", http.StatusNotFound, "not_found", "Device 7 not found.", nil},
		{"fields", http.StatusUnprocessableEntity, "invalid", "The request has invalid fields.", []string{"humidity", "battery"}},
		{"huma", http.StatusConflict, "conflict", "Version mismatch.", nil},
		{"internal", http.StatusInternalServerError, "internal", "Internal error.", nil},
		{"thermo-internal", http.StatusInternalServerError, "internal", "Internal error.", nil},
	} {
		t.Run(tt.kind, func(t *testing.T) {
			t.Parallel()
			reqID := "handler-err-" + tt.kind
			resp, body := b.do(t, http.MethodGet, "/v1/test/fail?kind="+tt.kind, "", authed("X-Request-Id", reqID)...)
			p := decodeProblem(t, resp, body, tt.status)
			if p.Code != tt.code || p.Detail != tt.detail {
				t.Errorf("code/detail = %q/%q, want %q/%q", p.Code, p.Detail, tt.code, tt.detail)
			}
			var fields []string
			for _, e := range p.Errors {
				fields = append(fields, e.Field)
			}
			if fmt.Sprint(fields) != fmt.Sprint(tt.fields) {
				t.Errorf("fields = %v, want %v", fields, tt.fields)
			}
			if strings.Contains(string(body), "hunter2") || strings.Contains(string(body), "db-primary-7") {
				t.Errorf("internal cause leaked: %s", body)
			}
			if tt.status != http.StatusInternalServerError {
				return
			}
			rec := b.logs.waitRecord(t, func(r map[string]any) bool {
				return r["msg"] == "internal error" && r["request_id"] == reqID
			})
			if cause, _ := rec["error"].(string); cause == "" || rec["tenant"] != testTenant || rec["sub"] != "user-1" {
				t.Errorf("internal error log = %v, want the cause, tenant and sub", rec)
			}
			if tt.kind == "internal" && !strings.Contains(rec["error"].(string), "hunter2") {
				t.Errorf("internal error log lacks the cause: %v", rec)
			}
		})
	}
}

func TestServerError(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tt := range []struct {
		name   string
		err    error
		status int
		code   string
		detail string
	}{
		{"Wrapped", fmt.Errorf("load: %w", thermo.Errorf(thermo.ECONFLICT, "Already acknowledged.")), http.StatusConflict, "conflict", "Already acknowledged."},
		{"Precondition", thermo.Errorf(thermo.EPRECONDREQ, "If-Match is required."), http.StatusPreconditionRequired, "precondition_required", "If-Match is required."},
		{"TooLarge", &http.MaxBytesError{Limit: 10}, http.StatusRequestEntityTooLarge, "too_large", "The request body exceeds 10 bytes."},
		{"UnknownCode", thermo.Errorf("bogus", "secret detail"), http.StatusInternalServerError, "internal", "Internal error."},
		{"Plain", errors.New("secret detail"), http.StatusInternalServerError, "internal", "Internal error."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodGet, "/x", nil)
			r = r.WithContext(thermo.WithRequestID(context.Background(), "plain-"+tt.name))
			b.srv.Error(w, r, tt.err)
			if w.Code != tt.status || w.Header().Get("Content-Type") != "application/problem+json" {
				t.Fatalf("= %d %q, want %d problem+json", w.Code, w.Header().Get("Content-Type"), tt.status)
			}
			var p problem
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
				t.Fatal(err)
			}
			if p.Code != tt.code || p.Detail != tt.detail || p.RequestID != "plain-"+tt.name || p.Status != tt.status {
				t.Errorf("problem = %+v, want %d %s %q", p, tt.status, tt.code, tt.detail)
			}
		})
	}
}
