package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/thermo/thermo"
)

// location returns the time zone of ctx's tenant; ctx must carry a
// transaction.
func (db *DB) location(ctx context.Context) (*time.Location, error) {
	tenant := thermo.TenantFromContext(ctx)
	if loc, ok := db.zones.Load(tenant); ok {
		return loc.(*time.Location), nil
	}
	var name string
	err := conn(ctx).QueryRow(ctx, "SELECT time_zone FROM public.tenants WHERE id = $1", tenant).Scan(&name)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, thermo.Errorf(thermo.ENOTFOUND, "Tenant %q does not exist.", tenant)
	} else if err != nil {
		return nil, fmt.Errorf("find tenant time zone: %w", err)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("tenant %s time zone: %w", tenant, err)
	}
	db.zones.Store(tenant, loc)
	return loc, nil
}
