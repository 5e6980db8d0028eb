package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/thermo/thermo"
)

var _ thermo.LiveSettingsService = (*LiveSettingsService)(nil)

// LiveSettingsService stores the tenant's live-stream policy in its
// live_settings table (one row at most; none means the defaults).
type LiveSettingsService struct {
	db *DB
}

// NewLiveSettingsService returns a LiveSettingsService backed by db.
func NewLiveSettingsService(db *DB) *LiveSettingsService { return &LiveSettingsService{db: db} }

// FindLiveSettings returns the tenant's settings, defaults included.
func (s *LiveSettingsService) FindLiveSettings(ctx context.Context) (*thermo.LiveSettings, error) {
	out := &thermo.LiveSettings{SingleSession: true}
	err := s.db.ReadTx(ctx, func(ctx context.Context) error {
		err := conn(ctx).QueryRow(ctx, `SELECT single_session FROM live_settings`).Scan(&out.SingleSession)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("find live settings: %w", err)
	}
	return out, nil
}

// UpdateLiveSettings stores ls.
func (s *LiveSettingsService) UpdateLiveSettings(ctx context.Context, ls *thermo.LiveSettings) error {
	err := s.db.InTx(ctx, func(ctx context.Context) error {
		_, err := conn(ctx).Exec(ctx, `
INSERT INTO live_settings (single_session) VALUES ($1)
ON CONFLICT (singleton) DO UPDATE SET single_session = EXCLUDED.single_session, updated_at = now()`, ls.SingleSession)
		return err
	})
	if err != nil {
		return fmt.Errorf("update live settings: %w", err)
	}
	return nil
}
