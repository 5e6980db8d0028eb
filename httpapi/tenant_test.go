package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/thermo/thermo"
)

func TestGetTenant(t *testing.T) {
	t.Parallel()
	var sawTenant atomic.Value
	b := setup(t, func(b *testBundle) {
		find := b.tenants.FindTenantByIDFn
		b.tenants.FindTenantByIDFn = func(ctx context.Context, id string) (*thermo.Tenant, error) {
			sawTenant.Store(thermo.TenantFromContext(ctx))
			return find(ctx, id)
		}
	})
	resp, body := b.do(t, http.MethodGet, "/v1/tenant", "", authed()...)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("= %d %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	const want = `{"id":"acme","name":"Acme Towers","timeZone":"Europe/Berlin","retentionDays":90,"createdAt":"2025-01-02T03:04:05Z"}`
	if got := strings.TrimSpace(string(body)); got != want {
		t.Errorf("body = %s\nwant   %s", got, want)
	}
	if sawTenant.Load() != testTenant {
		t.Errorf("FindTenantByID ctx tenant = %v, want %q", sawTenant.Load(), testTenant)
	}
}

func TestGetTenant_NotFound(t *testing.T) {
	t.Parallel()
	b := setup(t, func(b *testBundle) {
		b.tenants.FindTenantByIDFn = func(context.Context, string) (*thermo.Tenant, error) {
			return nil, thermo.Errorf(thermo.ENOTFOUND, "Tenant not found.")
		}
	})
	resp, body := b.do(t, http.MethodGet, "/v1/tenant", "", authed()...)
	p := decodeProblem(t, resp, body, http.StatusNotFound)
	if p.Code != "not_found" || p.Detail != "Tenant not found." {
		t.Errorf("problem = %+v", p)
	}
}
