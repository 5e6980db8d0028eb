package mock

import (
	"context"

	"github.com/thermo/thermo"
)

var _ thermo.TenantService = (*TenantService)(nil)

// TenantService is a fake thermo.TenantService.
type TenantService struct {
	CreateTenantFn   func(ctx context.Context, t *thermo.Tenant) error
	EnsureTenantFn   func(ctx context.Context, id string) error
	FindTenantByIDFn func(ctx context.Context, id string) (*thermo.Tenant, error)
	ListTenantsFn    func(ctx context.Context) ([]*thermo.Tenant, error)
}

func (s *TenantService) CreateTenant(ctx context.Context, t *thermo.Tenant) error {
	return s.CreateTenantFn(ctx, t)
}

func (s *TenantService) EnsureTenant(ctx context.Context, id string) error {
	return s.EnsureTenantFn(ctx, id)
}

func (s *TenantService) FindTenantByID(ctx context.Context, id string) (*thermo.Tenant, error) {
	return s.FindTenantByIDFn(ctx, id)
}

func (s *TenantService) ListTenants(ctx context.Context) ([]*thermo.Tenant, error) {
	return s.ListTenantsFn(ctx)
}
