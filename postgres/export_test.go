package postgres

import "context"

// Remigrate rolls the tenant's schema back to just before version and
// migrates it up again, so a test can run that migration on existing data.
func Remigrate(ctx context.Context, db *DB, tenant string, version int64) error {
	p, sqlDB, err := db.provider("migrations/tenant", SchemaName(tenant)+"."+tenantVersionTable, SchemaName(tenant))
	if err != nil {
		return err
	}
	defer sqlDB.Close()
	if _, err := p.DownTo(ctx, version-1); err != nil {
		return err
	}
	_, err = p.Up(ctx)
	return err
}
