package httpapi

import (
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/thermo/thermo"
)

// SecurityScheme is the name of the OpenAPI security scheme (HTTP bearer,
// JWT) that every /v1 operation requires.
const SecurityScheme = "bearer"

// apiPrefix is the path prefix of tenant-scoped operations.
const apiPrefix = "/v1/"

func securitySchemes() map[string]*huma.SecurityScheme {
	return map[string]*huma.SecurityScheme{
		SecurityScheme: {
			Type:         "http",
			Scheme:       "bearer",
			BearerFormat: "JWT",
			Description:  "An OIDC access token whose signed tenant claim selects the tenant.",
		},
	}
}

// requireBearer is an OnAddOperation hook: every /v1 operation is documented
// with the bearer scheme, the error responses authentication can cause and a
// default problem response (400/413/422 from huma), so resource files cannot
// forget them and the document cannot drift.
func requireBearer(oapi *huma.OpenAPI, op *huma.Operation) {
	if !strings.HasPrefix(op.Path, apiPrefix) {
		return
	}
	op.Security = []map[string][]string{{SecurityScheme: {}}}
	schema := oapi.Components.Schemas.Schema(reflect.TypeFor[Problem](), true, "Problem")
	if op.Responses == nil {
		op.Responses = map[string]*huma.Response{}
	}
	for _, key := range []string{"401", "403", "500", "503", "default"} {
		if op.Responses[key] != nil {
			continue
		}
		desc := "Error"
		if status, err := strconv.Atoi(key); err == nil {
			desc = http.StatusText(status)
		}
		op.Responses[key] = &huma.Response{
			Description: desc,
			Content:     map[string]*huma.MediaType{problemContentType: {Schema: schema}},
		}
	}
}

// requiresAuth reports whether op needs a caller. /v1 operations always do,
// even hidden ones the OnAddOperation hook never saw: no request reaches
// tenant data without a tenant.
func requiresAuth(op *huma.Operation) bool {
	return len(op.Security) > 0 || strings.HasPrefix(op.Path, apiPrefix)
}

// authenticate is the huma middleware for operations that require a caller:
// it verifies the bearer token, provisions the caller's tenant on first use
// and puts the principal (and so the tenant) into the request context.
func (s *Server) authenticate(ctx huma.Context, next func(huma.Context)) {
	if !requiresAuth(ctx.Operation()) {
		next(ctx)
		return
	}
	raw, ok := bearerToken(ctx.Header("Authorization"))
	if !ok {
		s.writeErr(ctx, thermo.Errorf(thermo.EUNAUTHORIZED, "A bearer token is required."))
		return
	}
	p, err := s.verifier.VerifyToken(ctx.Context(), raw)
	if err != nil {
		if thermo.ErrorCode(err) == thermo.EUNAUTHORIZED {
			ctx.SetHeader("WWW-Authenticate", `Bearer realm="thermo", error="invalid_token"`)
		}
		s.writeErr(ctx, err)
		return
	}
	if err := thermo.ValidateTenantID(p.TenantID); err != nil {
		s.writeErr(ctx, thermo.Errorf(thermo.EFORBIDDEN, "The token carries no valid tenant."))
		return
	}
	c := thermo.WithPrincipal(ctx.Context(), p)
	setPrincipal(c, p)
	if err := s.tenants.EnsureTenant(c, p.TenantID); err != nil {
		s.writeErr(huma.WithContext(ctx, c), err)
		return
	}
	next(huma.WithContext(ctx, c))
}

// writeErr writes err from a huma middleware; newHumaError maps it by code.
func (s *Server) writeErr(ctx huma.Context, err error) {
	_ = huma.WriteErr(s.api, ctx, http.StatusInternalServerError, "", err)
}

// bearerToken extracts the token of an "Authorization: Bearer <token>"
// header (scheme case-insensitive, RFC 9110).
func bearerToken(h string) (string, bool) {
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	if token == "" || strings.ContainsAny(token, " \t") {
		return "", false
	}
	return token, true
}
