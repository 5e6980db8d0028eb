package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/thermo/thermo"
)

var (
	_ thermo.AlertService   = (*AlertService)(nil)
	_ thermo.WebhookService = (*AlertService)(nil)
)

// AlertService stores alert rules, alerts and the tenant's webhook, and
// evaluates rules on ingest (EvaluateReadings, an IngestHook).
//
// The SQL is hand-written rather than sqlc-generated: the list filters are
// optional, and the rule and alert rows are scanned together from one JOIN.
type AlertService struct {
	db *DB

	// OnFireFunc, if set, runs in the ingest transaction for every alert
	// that fires (cmd/thermo enqueues its notification job there). An error
	// rolls the ingest back.
	OnFireFunc func(ctx context.Context, a *thermo.Alert) error
}

// NewAlertService returns an AlertService backed by db.
func NewAlertService(db *DB) *AlertService { return &AlertService{db: db} }

const ruleColumns = `r.id, r.device_id, r.condition, r.threshold_celsius, r.for_seconds,
       r.clear_hysteresis_celsius, r.is_enabled, r.state, r.created_at, r.updated_at`

func scanRule(row pgx.Row, extra ...any) (*thermo.AlertRule, error) {
	r := &thermo.AlertRule{}
	dest := append([]any{&r.ID, &r.DeviceID, &r.Condition, &r.ThresholdCelsius, &r.ForSeconds,
		&r.ClearHysteresisCelsius, &r.IsEnabled, &r.State, &r.CreatedAt, &r.UpdatedAt}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	return r, nil
}

func ruleNotFound(deviceID, id int64) string {
	return fmt.Sprintf("Alert rule %d of device %d not found.", id, deviceID)
}

// CreateAlertRule validates and stores r; the device must exist.
func (s *AlertService) CreateAlertRule(ctx context.Context, r *thermo.AlertRule) error {
	if err := r.Validate(); err != nil {
		return err
	}
	return s.db.InTx(ctx, func(ctx context.Context) error {
		if err := checkDeviceExists(ctx, r.DeviceID); err != nil {
			return err
		}
		row := conn(ctx).QueryRow(ctx, `
INSERT INTO alert_rules AS r (device_id, condition, threshold_celsius, for_seconds, clear_hysteresis_celsius, is_enabled)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING `+ruleColumns,
			r.DeviceID, r.Condition, r.ThresholdCelsius, r.ForSeconds, r.ClearHysteresisCelsius, r.IsEnabled)
		got, err := scanRule(row)
		if err != nil {
			return fmt.Errorf("create alert rule: %w", mapError(err, ""))
		}
		*r = *got
		return nil
	})
}

// FindAlertRules returns the device's rules in creation order.
func (s *AlertService) FindAlertRules(ctx context.Context, deviceID int64) ([]*thermo.AlertRule, error) {
	out := []*thermo.AlertRule{}
	err := s.db.ReadTx(ctx, func(ctx context.Context) error {
		if err := checkDeviceExists(ctx, deviceID); err != nil {
			return err
		}
		rows, err := conn(ctx).Query(ctx, `SELECT `+ruleColumns+` FROM alert_rules r WHERE r.device_id = $1 ORDER BY r.id`, deviceID)
		if err != nil {
			return fmt.Errorf("find alert rules: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			r, err := scanRule(rows)
			if err != nil {
				return fmt.Errorf("scan alert rule: %w", err)
			}
			out = append(out, r)
		}
		return rows.Err()
	})
	return out, err
}

// FindAlertRule returns one rule of the device.
func (s *AlertService) FindAlertRule(ctx context.Context, deviceID, id int64) (*thermo.AlertRule, error) {
	var r *thermo.AlertRule
	err := s.db.ReadTx(ctx, func(ctx context.Context) error {
		var err error
		r, err = scanRule(conn(ctx).QueryRow(ctx,
			`SELECT `+ruleColumns+` FROM alert_rules r WHERE r.id = $1 AND r.device_id = $2`, id, deviceID))
		return mapError(err, ruleNotFound(deviceID, id))
	})
	return r, err
}

// UpdateAlertRule changes a rule under its row lock, so it never races an
// evaluation. Disabling a rule ends its evaluation: an open alert is
// resolved now and the state returns to ok. Changing the definition of a
// pending rule restarts its pending period; a firing rule keeps firing and
// clears by the new definition.
func (s *AlertService) UpdateAlertRule(ctx context.Context, deviceID, id int64, upd thermo.AlertRuleUpdate) (*thermo.AlertRule, error) {
	if err := upd.Validate(); err != nil {
		return nil, err
	}
	var r *thermo.AlertRule
	err := s.db.InTx(ctx, func(ctx context.Context) error {
		var openAlert *int64
		cur, err := scanRule(conn(ctx).QueryRow(ctx,
			`SELECT `+ruleColumns+`, r.open_alert_id FROM alert_rules r WHERE r.id = $1 AND r.device_id = $2 FOR UPDATE`,
			id, deviceID), &openAlert)
		if err != nil {
			return mapError(err, ruleNotFound(deviceID, id))
		}
		disable := upd.IsEnabled != nil && !*upd.IsEnabled && cur.IsEnabled
		if disable && openAlert != nil {
			if _, err := conn(ctx).Exec(ctx,
				`UPDATE alerts SET resolved_at = now(), version = version + 1 WHERE id = $1 AND resolved_at IS NULL`, *openAlert); err != nil {
				return fmt.Errorf("resolve alert of disabled rule: %w", err)
			}
		}
		r, err = scanRule(conn(ctx).QueryRow(ctx, `
UPDATE alert_rules AS r SET
    condition                = coalesce($3, condition),
    threshold_celsius        = coalesce($4, threshold_celsius),
    for_seconds              = coalesce($5, for_seconds),
    clear_hysteresis_celsius = coalesce($6, clear_hysteresis_celsius),
    is_enabled               = coalesce($7, is_enabled),
    state         = CASE WHEN $8 OR (state = 'pending' AND $9) THEN 'ok' ELSE state END,
    pending_since = CASE WHEN $8 OR $9 THEN NULL ELSE pending_since END,
    open_alert_id = CASE WHEN $8 THEN NULL ELSE open_alert_id END,
    updated_at    = now()
WHERE id = $1 AND device_id = $2
RETURNING `+ruleColumns,
			id, deviceID, upd.Condition, upd.ThresholdCelsius, upd.ForSeconds, upd.ClearHysteresisCelsius, upd.IsEnabled,
			disable, upd.Condition != nil || upd.ThresholdCelsius != nil || upd.ForSeconds != nil))
		if err != nil {
			return fmt.Errorf("update alert rule: %w", mapError(err, ruleNotFound(deviceID, id)))
		}
		return nil
	})
	return r, err
}

// DeleteAlertRule removes a rule; its alerts go with it.
func (s *AlertService) DeleteAlertRule(ctx context.Context, deviceID, id int64) error {
	return s.db.InTx(ctx, func(ctx context.Context) error {
		tag, err := conn(ctx).Exec(ctx, `DELETE FROM alert_rules WHERE id = $1 AND device_id = $2`, id, deviceID)
		if err != nil {
			return fmt.Errorf("delete alert rule: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return thermo.Errorf(thermo.ENOTFOUND, "%s", ruleNotFound(deviceID, id))
		}
		return nil
	})
}

// alertSelect reads alerts with their rule (one JOIN) and notification.
const alertSelect = `
SELECT ` + ruleColumns + `,
       a.id, a.rule_id, a.device_id, a.reading_id, a.temperature_celsius, a.fired_at, a.resolved_at,
       a.acknowledged_by, a.acknowledged_at, a.version, a.created_at,
       n.status, n.attempts, n.last_error, n.updated_at
FROM alerts a
JOIN alert_rules r ON r.id = a.rule_id
LEFT JOIN alert_notifications n ON n.alert_id = a.id`

func scanAlert(row pgx.Row) (*thermo.Alert, error) {
	var (
		a        thermo.Alert
		nStatus  *string
		nAttempt *int
		nErr     *string
		nUpdated *time.Time
	)
	r, err := scanRule(row, &a.ID, &a.RuleID, &a.DeviceID, &a.ReadingID, &a.TemperatureCelsius, &a.FiredAt, &a.ResolvedAt,
		&a.AcknowledgedBy, &a.AcknowledgedAt, &a.Version, &a.CreatedAt,
		&nStatus, &nAttempt, &nErr, &nUpdated)
	if err != nil {
		return nil, err
	}
	a.Rule = r
	if nStatus != nil {
		a.Notification = &thermo.NotificationStatus{Status: *nStatus, Attempts: *nAttempt, LastError: *nErr, UpdatedAt: nUpdated.UTC()}
	}
	a.FiredAt, a.CreatedAt = a.FiredAt.UTC(), a.CreatedAt.UTC()
	a.ResolvedAt, a.AcknowledgedAt = utcPtr(a.ResolvedAt), utcPtr(a.AcknowledgedAt)
	return &a, nil
}

// FindAlerts returns one page newest first; the rule comes from the JOIN.
func (s *AlertService) FindAlerts(ctx context.Context, f thermo.AlertFilter) ([]*thermo.Alert, bool, error) {
	if f.State != "" && f.State != thermo.RuleFiring && f.State != "resolved" {
		return nil, false, thermo.InvalidFields(thermo.FieldError{Field: "state", Reason: "must be firing or resolved"})
	}
	limit := f.PageLimit()
	before := f.BeforeID
	if before <= 0 {
		before = 1<<63 - 1
	}
	out := make([]*thermo.Alert, 0, limit)
	err := s.db.ReadTx(ctx, func(ctx context.Context) error {
		if f.DeviceID != nil {
			if err := checkDeviceExists(ctx, *f.DeviceID); err != nil {
				return err
			}
		}
		rows, err := conn(ctx).Query(ctx, alertSelect+`
WHERE ($1::bigint IS NULL OR a.device_id = $1)
  AND ($2::text = '' OR ($2 = 'firing') = (a.resolved_at IS NULL))
  AND ($3::boolean IS NULL OR (a.acknowledged_at IS NOT NULL) = $3)
  AND a.id < $4
ORDER BY a.id DESC
LIMIT $5`, f.DeviceID, f.State, f.Acknowledged, before, limit+1)
		if err != nil {
			return fmt.Errorf("find alerts: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			a, err := scanAlert(rows)
			if err != nil {
				return fmt.Errorf("scan alert: %w", err)
			}
			out = append(out, a)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, false, err
	}
	return out[:min(len(out), limit)], len(out) > limit, nil
}

// FindAlertByID returns one alert with its rule.
func (s *AlertService) FindAlertByID(ctx context.Context, id int64) (*thermo.Alert, error) {
	var a *thermo.Alert
	err := s.db.ReadTx(WithPrimary(ctx), func(ctx context.Context) error {
		var err error
		a, err = findAlert(ctx, id)
		return err
	})
	return a, err
}

func findAlert(ctx context.Context, id int64) (*thermo.Alert, error) {
	a, err := scanAlert(conn(ctx).QueryRow(ctx, alertSelect+` WHERE a.id = $1`, id))
	if err != nil {
		return nil, mapError(err, fmt.Sprintf("Alert %d not found.", id))
	}
	return a, nil
}

// AcknowledgeAlert is an optimistic-lock update: it applies only while the
// alert still has the client's version, so of concurrent acknowledgements
// with the same version exactly one succeeds.
func (s *AlertService) AcknowledgeAlert(ctx context.Context, id, version int64, subject string) (*thermo.Alert, error) {
	if subject == "" {
		return nil, thermo.Errorf(thermo.EUNAUTHORIZED, "Acknowledging needs an authenticated subject.")
	}
	var a *thermo.Alert
	err := s.db.InTx(ctx, func(ctx context.Context) error {
		tag, err := conn(ctx).Exec(ctx, `
UPDATE alerts SET acknowledged_by = $3, acknowledged_at = now(), version = version + 1
WHERE id = $1 AND version = $2 AND acknowledged_at IS NULL`, id, version, subject)
		if err != nil {
			return fmt.Errorf("acknowledge alert: %w", mapError(err, ""))
		}
		if a, err = findAlert(ctx, id); err != nil {
			return err
		}
		switch {
		case tag.RowsAffected() == 1:
			return nil
		case a.Version != version:
			return thermo.Errorf(thermo.EPRECONDITION, "Alert %d is at version %d, not %d: reload it and retry.", id, a.Version, version)
		default:
			return thermo.Errorf(thermo.ECONFLICT, "Alert %d is already acknowledged.", id)
		}
	})
	if err != nil && thermo.ErrorCode(err) == thermo.EPRECONDITION {
		return a, err
	}
	if err != nil {
		return nil, err
	}
	return a, nil
}

// RecordNotification upserts the delivery outcome of an alert.
func (s *AlertService) RecordNotification(ctx context.Context, alertID int64, st thermo.NotificationStatus) error {
	return s.db.InTx(ctx, func(ctx context.Context) error {
		_, err := conn(ctx).Exec(ctx, `
INSERT INTO alert_notifications (alert_id, status, attempts, last_error) VALUES ($1, $2, $3, $4)
ON CONFLICT (alert_id) DO UPDATE SET status = EXCLUDED.status, attempts = EXCLUDED.attempts,
    last_error = EXCLUDED.last_error, updated_at = now()`, alertID, st.Status, st.Attempts, st.LastError)
		if err != nil {
			return fmt.Errorf("record notification: %w", mapError(err, ""))
		}
		return nil
	})
}

// SetWebhook replaces the tenant's webhook, generating a secret if w has
// none (the caller shows it once).
func (s *AlertService) SetWebhook(ctx context.Context, w *thermo.Webhook) error {
	if err := w.Validate(); err != nil {
		return err
	}
	if w.Secret == "" {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return fmt.Errorf("generate webhook secret: %w", err)
		}
		w.Secret = "whsec_" + hex.EncodeToString(b)
	}
	return s.db.InTx(ctx, func(ctx context.Context) error {
		err := conn(ctx).QueryRow(ctx, `
INSERT INTO webhooks (url, secret) VALUES ($1, $2)
ON CONFLICT (singleton) DO UPDATE SET url = EXCLUDED.url, secret = EXCLUDED.secret, updated_at = now()
RETURNING updated_at`, w.URL, w.Secret).Scan(&w.UpdatedAt)
		if err != nil {
			return fmt.Errorf("set webhook: %w", mapError(err, ""))
		}
		w.UpdatedAt = w.UpdatedAt.UTC()
		return nil
	})
}

// FindWebhook returns the tenant's webhook, secret included.
func (s *AlertService) FindWebhook(ctx context.Context) (*thermo.Webhook, error) {
	w := &thermo.Webhook{}
	err := s.db.ReadTx(WithPrimary(ctx), func(ctx context.Context) error {
		err := conn(ctx).QueryRow(ctx, `SELECT url, secret, updated_at FROM webhooks`).Scan(&w.URL, &w.Secret, &w.UpdatedAt)
		return mapError(err, "No webhook is configured.")
	})
	if err != nil {
		return nil, err
	}
	w.UpdatedAt = w.UpdatedAt.UTC()
	return w, nil
}
