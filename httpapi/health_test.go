package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/thermo/thermo/httpapi"
)

func TestHealthz(t *testing.T) {
	t.Parallel()
	b := setup(t)
	resp, body := b.do(t, http.MethodGet, "/healthz", "")
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != `{"status":"ok"}` {
		t.Fatalf("/healthz = %d %s", resp.StatusCode, body)
	}
}

func TestReadyz(t *testing.T) {
	t.Parallel()
	ok := func(context.Context) error { return nil }
	fail := func(context.Context) error { return errors.New("connection refused") }
	hang := func(context.Context) error { time.Sleep(3 * time.Second); return nil }

	for _, tt := range []struct {
		name        string
		pg, redis   func(context.Context) error
		status      int
		wantStatus  string
		wantPG      string
		wantRedisOK bool
	}{
		{"AllOK", ok, ok, http.StatusOK, "ok", "ok", true},
		{"CriticalFails", fail, ok, http.StatusServiceUnavailable, "unavailable", "error: connection refused", true},
		{"NonCriticalFails", ok, fail, http.StatusOK, "degraded", "ok", false},
		{"CriticalHangs", hang, ok, http.StatusServiceUnavailable, "unavailable", "error: timed out after 2s: context deadline exceeded", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(b *testBundle) {
				b.opts.Ready = []httpapi.ReadyCheck{
					{Name: "postgres", Critical: true, Check: tt.pg},
					{Name: "redis", Critical: false, Check: tt.redis},
				}
			})
			resp, body := b.do(t, http.MethodGet, "/readyz", "")
			if resp.StatusCode != tt.status {
				t.Fatalf("/readyz = %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			var got httpapi.Readiness
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			if got.Status != tt.wantStatus || got.Checks["postgres"] != tt.wantPG {
				t.Errorf("readiness = %+v, want status %q postgres %q", got, tt.wantStatus, tt.wantPG)
			}
			if redisOK := got.Checks["redis"] == "ok"; redisOK != tt.wantRedisOK ||
				!redisOK && got.Checks["redis"] != "error: connection refused" {
				t.Errorf("redis = %q, want ok=%v", got.Checks["redis"], tt.wantRedisOK)
			}
		})
	}
}

func TestOpenAPI(t *testing.T) {
	t.Parallel()
	b := setup(t)
	resp, body := b.do(t, http.MethodGet, "/openapi.json", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/openapi.json = %d", resp.StatusCode)
	}
	type response struct {
		Content map[string]struct {
			Schema struct {
				Ref string `json:"$ref"`
			} `json:"schema"`
		} `json:"content"`
	}
	var doc struct {
		OpenAPI string `json:"openapi"`
		Paths   map[string]map[string]struct {
			OperationID string                `json:"operationId"`
			Security    []map[string][]string `json:"security"`
			Responses   map[string]response   `json:"responses"`
		} `json:"paths"`
		Components struct {
			SecuritySchemes map[string]struct {
				Type, Scheme, BearerFormat string
			} `json:"securitySchemes"`
			Schemas map[string]struct {
				Properties           map[string]any `json:"properties"`
				AdditionalProperties *bool          `json:"additionalProperties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	op, ok := doc.Paths["/v1/tenant"]["get"]
	if !ok || op.OperationID != "get-tenant" {
		t.Fatalf("GET /v1/tenant missing or misnamed: %+v", doc.Paths["/v1/tenant"])
	}
	if len(op.Security) != 1 || op.Security[0]["bearer"] == nil {
		t.Errorf("security = %v, want [{bearer: []}]", op.Security)
	}
	for _, code := range []string{"200", "401", "403", "404", "500", "503", "default"} {
		if _, ok := op.Responses[code]; !ok {
			t.Errorf("GET /v1/tenant has no %s response", code)
		}
	}
	if ref := op.Responses["401"].Content["application/problem+json"].Schema.Ref; ref != "#/components/schemas/Problem" {
		t.Errorf("401 schema = %q, want the Problem schema", ref)
	}
	if s := doc.Components.SecuritySchemes["bearer"]; s.Type != "http" || s.Scheme != "bearer" || s.BearerFormat != "JWT" {
		t.Errorf("bearer scheme = %+v", s)
	}
	tenant := doc.Components.Schemas["Tenant"]
	for _, p := range []string{"id", "name", "timeZone", "retentionDays", "createdAt"} {
		if _, ok := tenant.Properties[p]; !ok {
			t.Errorf("Tenant schema lacks %q", p)
		}
	}
	// Request bodies reject unknown fields in the document too.
	if ap := doc.Components.Schemas["ReadingInputBody"].AdditionalProperties; ap == nil || *ap {
		t.Errorf("request body additionalProperties = %v, want false", ap)
	}
	for path := range doc.Paths {
		if path == "/healthz" || path == "/metrics" {
			t.Errorf("infrastructure path %s is in the API document", path)
		}
	}
}
