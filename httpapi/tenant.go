package httpapi

import (
	"context"
	"fmt"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/thermo/thermo"
)

// tenantOutput is the caller's tenant.
type tenantOutput struct {
	Body *thermo.Tenant
}

func (s *Server) registerTenantRoutes() {
	huma.Register(s.api, huma.Operation{
		OperationID: "get-tenant",
		Method:      http.MethodGet,
		Path:        "/v1/tenant",
		Summary:     "Get the caller's tenant",
		Description: "Returns the tenant named by the signed tenant claim of the caller's token.",
		Tags:        []string{"tenants"},
		Errors:      []int{http.StatusNotFound},
	}, s.getTenant)
}

// getTenant returns the tenant of the authenticated caller.
func (s *Server) getTenant(ctx context.Context, _ *struct{}) (*tenantOutput, error) {
	id := thermo.TenantFromContext(ctx)
	if id == "" {
		return nil, thermo.Errorf(thermo.EUNAUTHORIZED, "The request has no tenant.")
	}
	t, err := s.tenants.FindTenantByID(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("find tenant %q: %w", id, err)
	}
	return &tenantOutput{Body: t}, nil
}
