package thermo

import (
	"context"
	"regexp"
	"time"
)

// Tenant is one customer (a building owner). Its data lives in its own
// PostgreSQL schema, which no other tenant's requests can reach.
type Tenant struct {
	ID            string    `json:"id"`
	Name          string    `json:"name"`
	TimeZone      string    `json:"timeZone"`
	RetentionDays int       `json:"retentionDays"`
	CreatedAt     time.Time `json:"createdAt"`
}

// Tenant defaults.
const (
	DefaultTimeZone      = "UTC"
	DefaultRetentionDays = 365
)

var tenantIDPattern = regexp.MustCompile(`^[a-z][a-z0-9_]{1,39}$`)

// reservedTenantIDs would shadow or alias schemas that are not tenant data.
var reservedTenantIDs = map[string]bool{
	"public": true, "river": true, "pg_catalog": true, "information_schema": true,
	"pg_toast": true, "pg_temp": true,
}

// ValidateTenantID reports whether id may name a tenant. It runs before any
// id reaches SQL: an id that passes is safe inside a quoted identifier.
func ValidateTenantID(id string) error {
	if !tenantIDPattern.MatchString(id) {
		return Errorf(EINVALID, "tenant id %q must match ^[a-z][a-z0-9_]{1,39}$", truncate(id, 64))
	}
	if reservedTenantIDs[id] || len(id) >= 3 && id[:3] == "pg_" {
		return Errorf(EINVALID, "tenant id %q is reserved", id)
	}
	return nil
}

// Validate checks a tenant before it is stored and fills in defaults.
func (t *Tenant) Validate() error {
	if err := ValidateTenantID(t.ID); err != nil {
		return err
	}
	if t.Name == "" {
		t.Name = t.ID
	}
	if t.TimeZone == "" {
		t.TimeZone = DefaultTimeZone
	}
	if _, err := time.LoadLocation(t.TimeZone); err != nil {
		return InvalidFields(FieldError{Field: "timeZone", Reason: "unknown IANA time zone " + truncate(t.TimeZone, 64)})
	}
	if t.RetentionDays == 0 {
		t.RetentionDays = DefaultRetentionDays
	}
	if t.RetentionDays < 1 || t.RetentionDays > 36500 {
		return InvalidFields(FieldError{Field: "retentionDays", Reason: "must be between 1 and 36500"})
	}
	return nil
}

// TenantService manages the control plane: the list of tenants and their
// schemas.
type TenantService interface {
	// CreateTenant registers t and provisions its schema at the latest
	// migration. It is idempotent: creating an existing tenant returns it.
	CreateTenant(ctx context.Context, t *Tenant) error
	// EnsureTenant provisions tenant id with defaults unless it exists. It is
	// cheap after the first call for an id in this process.
	EnsureTenant(ctx context.Context, id string) error
	FindTenantByID(ctx context.Context, id string) (*Tenant, error)
	ListTenants(ctx context.Context) ([]*Tenant, error)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
