package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/thermo/thermo"
)

func TestAuth_Rejected(t *testing.T) {
	t.Parallel()
	b := setup(t)

	for _, tt := range []struct {
		name, header, detail, wwwAuth string
	}{
		{"Missing", "", "A bearer token is required.", `Bearer realm="thermo"`},
		{"WrongScheme", "Basic dXNlcjpwYXNz", "A bearer token is required.", `Bearer realm="thermo"`},
		{"EmptyToken", "Bearer ", "A bearer token is required.", `Bearer realm="thermo"`},
		{"VerifierRejects", "Bearer expired-token", "Token has expired.", `Bearer realm="thermo", error="invalid_token"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var hdr []string
			if tt.header != "" {
				hdr = []string{"Authorization", tt.header}
			}
			resp, body := b.do(t, http.MethodGet, "/v1/tenant", "", hdr...)
			p := decodeProblem(t, resp, body, http.StatusUnauthorized)
			if p.Code != "unauthorized" || p.Detail != tt.detail {
				t.Errorf("code/detail = %q/%q, want unauthorized/%q", p.Code, p.Detail, tt.detail)
			}
			if got := resp.Header.Get("WWW-Authenticate"); got != tt.wwwAuth {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tt.wwwAuth)
			}
		})
	}
	if n := b.ensureCalls(testTenant); n != 0 {
		t.Errorf("EnsureTenant called %d times for rejected requests", n)
	}
}

func TestAuth_PrincipalReachesHandler(t *testing.T) {
	t.Parallel()
	b := setup(t)
	resp, body := b.do(t, http.MethodGet, "/v1/test/whoami", "", "Authorization", "bearer "+goodToken)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d: %s", resp.StatusCode, body)
	}
	var got struct{ Subject, Tenant string }
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Subject != "user-1" || got.Tenant != testTenant {
		t.Errorf("handler saw subject %q tenant %q, want user-1 %q", got.Subject, got.Tenant, testTenant)
	}
	if n := b.ensureCalls(testTenant); n != 1 {
		t.Errorf("EnsureTenant(%q) called %d times, want 1", testTenant, n)
	}
}

func TestAuth_EnsureTenantFails(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		err    error
		status int
		code   string
		detail string
	}{
		{"Unavailable", fmt.Errorf("provision: %w", thermo.Errorf(thermo.EUNAVAILABLE, "Tenant storage is unavailable.")),
			http.StatusServiceUnavailable, "unavailable", "Tenant storage is unavailable."},
		{"Internal", errors.New("create schema tenant_acme: connection reset"),
			http.StatusInternalServerError, "internal", "Internal error."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var called bool
			b := setup(t, func(b *testBundle) {
				b.tenants.EnsureTenantFn = func(context.Context, string) error { return tt.err }
				b.tenants.FindTenantByIDFn = func(context.Context, string) (*thermo.Tenant, error) {
					called = true
					return nil, errors.New("must not be reached")
				}
			})
			resp, body := b.do(t, http.MethodGet, "/v1/tenant", "", authed()...)
			p := decodeProblem(t, resp, body, tt.status)
			if p.Code != tt.code || p.Detail != tt.detail {
				t.Errorf("code/detail = %q/%q, want %q/%q", p.Code, p.Detail, tt.code, tt.detail)
			}
			if strings.Contains(string(body), "connection reset") {
				t.Errorf("internal cause leaked: %s", body)
			}
			if called {
				t.Error("handler ran although EnsureTenant failed")
			}
		})
	}
}

func TestAuth_TokenWithoutValidTenant(t *testing.T) {
	t.Parallel()
	b := setup(t, func(b *testBundle) {
		b.verifier.VerifyTokenFn = func(context.Context, string) (thermo.Principal, error) {
			return thermo.Principal{Subject: "user-1", TenantID: "Public; DROP"}, nil
		}
	})
	resp, body := b.do(t, http.MethodGet, "/v1/tenant", "", authed()...)
	p := decodeProblem(t, resp, body, http.StatusForbidden)
	if p.Code != "forbidden" {
		t.Errorf("code = %q, want forbidden", p.Code)
	}
}
