package thermo

import "context"

// Context keys are unexported types so no other package can collide with them.
type (
	tenantKey    struct{}
	principalKey struct{}
	requestIDKey struct{}
	jobIDKey     struct{}
)

// Principal is the authenticated caller: the verified token's subject, the
// tenant taken from its signed claim, and the issuer that vouched for it.
type Principal struct {
	Subject  string
	TenantID string
	Issuer   string
}

// WithTenant returns ctx scoped to tenant id. Callers must have validated id
// (ValidateTenantID); adapters re-check it before building SQL.
func WithTenant(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, tenantKey{}, id)
}

// TenantFromContext returns the tenant id in ctx, or "" when there is none.
func TenantFromContext(ctx context.Context) string {
	id, _ := ctx.Value(tenantKey{}).(string)
	return id
}

// WithPrincipal returns ctx carrying p and scoped to p's tenant.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	ctx = context.WithValue(ctx, principalKey{}, p)
	return WithTenant(ctx, p.TenantID)
}

// PrincipalFromContext returns the principal in ctx, if any.
func PrincipalFromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// WithRequestID returns ctx carrying the request id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDFromContext returns the request id in ctx, or "".
func RequestIDFromContext(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// WithJobID returns ctx carrying the id of the background job being worked.
func WithJobID(ctx context.Context, id int64) context.Context {
	return context.WithValue(ctx, jobIDKey{}, id)
}

// JobIDFromContext returns the job id in ctx, or 0.
func JobIDFromContext(ctx context.Context) int64 {
	id, _ := ctx.Value(jobIDKey{}).(int64)
	return id
}
