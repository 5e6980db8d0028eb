package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/thermo/thermo"
)

// lockRulesSQL reads the device's enabled rules and their state and locks
// them until the ingest transaction ends. In id order, so concurrent
// ingests of one device queue behind each other without deadlock. Under
// READ COMMITTED a waiting ingest gets the row as the first one committed
// it, so it continues from the state that one left.
//
// This one indexed statement per ingest (not per reading) is also why
// rules need no separate cache: the row lock must be taken anyway, and the
// locked row is the current definition, so there is nothing to invalidate
// across instances.
const lockRulesSQL = `
SELECT ` + ruleColumns + `, r.pending_since, r.last_reading_at, r.open_alert_id
FROM alert_rules r
WHERE r.device_id = $1 AND r.is_enabled
ORDER BY r.id
FOR UPDATE`

// lockGroupRulesSQL is lockRulesSQL for several devices: rows are locked
// in (device_id, id) order, the order in which per-device ingests lock
// them too, so groups and batches cannot deadlock on rules.
const lockGroupRulesSQL = `
SELECT ` + ruleColumns + `, r.pending_since, r.last_reading_at, r.open_alert_id
FROM alert_rules r
WHERE r.device_id = ANY($1::int8[]) AND r.is_enabled
ORDER BY r.device_id, r.id
FOR UPDATE`

// lockedRule is a rule with its evaluation state, as locked for an ingest.
type lockedRule struct {
	rule      *thermo.AlertRule
	state     thermo.RuleState
	openAlert *int64
}

// EvaluateReadings is the ingest hook: it runs every enabled rule of the
// device over the new readings (oldest first) in the ingest transaction.
// Entering firing inserts an alert, its pending notification and (via
// OnFireFunc) the notification job; clearing resolves the open alert.
//
// If LockRules ran in the same transaction, the device's rules come from
// it; otherwise they are locked here, one statement per device.
func (s *AlertService) EvaluateReadings(ctx context.Context, deviceID int64, readings []*thermo.Reading) error {
	rules, ok := takeLockedRules(ctx, deviceID)
	if !ok {
		var err error
		if rules, err = lockRules(ctx, deviceID); err != nil {
			return err
		}
	}
	for _, lr := range rules {
		if err := s.evaluateRule(ctx, lr, readings); err != nil {
			return fmt.Errorf("evaluate alert rule %d: %w", lr.rule.ID, err)
		}
	}
	return nil
}

func lockRules(ctx context.Context, deviceID int64) ([]*lockedRule, error) {
	rows, err := conn(ctx).Query(ctx, lockRulesSQL, deviceID)
	if err != nil {
		return nil, fmt.Errorf("lock alert rules: %w", err)
	}
	return scanLockedRules(rows)
}

func scanLockedRules(rows pgx.Rows) ([]*lockedRule, error) {
	defer rows.Close()
	var out []*lockedRule
	for rows.Next() {
		lr := &lockedRule{}
		var err error
		lr.rule, err = scanRule(rows, &lr.state.PendingSince, &lr.state.LastReadingAt, &lr.openAlert)
		if err != nil {
			return nil, fmt.Errorf("scan alert rule: %w", err)
		}
		lr.state.State = lr.rule.State
		out = append(out, lr)
	}
	return out, rows.Err()
}

// lockedRulesKey carries the rules LockRules locked, for ctx's transaction.
type lockedRulesKey struct{}

// lockedRules are the enabled rules of a group's devices, locked in tx.
type lockedRules struct {
	tx       *txState
	byDevice map[int64][]*lockedRule // a device without rules maps to nil
}

// LockRules is a ReadingService.PrepareIngest hook: it locks the enabled
// rules of all the devices in one statement, for EvaluateReadings, instead
// of one statement per device.
func (s *AlertService) LockRules(ctx context.Context, deviceIDs []int64) (context.Context, error) {
	if len(deviceIDs) < 2 {
		return ctx, nil // one device: EvaluateReadings' own statement is as cheap
	}
	rows, err := conn(ctx).Query(ctx, lockGroupRulesSQL, deviceIDs)
	if err != nil {
		return nil, fmt.Errorf("lock alert rules: %w", err)
	}
	rules, err := scanLockedRules(rows)
	if err != nil {
		return nil, err
	}
	locked := &lockedRules{tx: txFromContext(ctx), byDevice: make(map[int64][]*lockedRule, len(deviceIDs))}
	for _, id := range deviceIDs {
		locked.byDevice[id] = nil
	}
	for _, lr := range rules {
		locked.byDevice[lr.rule.DeviceID] = append(locked.byDevice[lr.rule.DeviceID], lr)
	}
	return context.WithValue(ctx, lockedRulesKey{}, locked), nil
}

// takeLockedRules returns (once) the device's rules that LockRules locked
// in ctx's transaction.
func takeLockedRules(ctx context.Context, deviceID int64) ([]*lockedRule, bool) {
	locked, _ := ctx.Value(lockedRulesKey{}).(*lockedRules)
	if locked == nil || locked.tx != txFromContext(ctx) {
		return nil, false
	}
	rules, ok := locked.byDevice[deviceID]
	delete(locked.byDevice, deviceID)
	return rules, ok
}

// evaluateRule steps one locked rule through the readings and writes the
// alerts it fires or resolves, then the rule's new state (if it moved).
func (s *AlertService) evaluateRule(ctx context.Context, lr *lockedRule, readings []*thermo.Reading) error {
	before := lr.state
	for _, rd := range readings {
		switch lr.rule.Step(&lr.state, rd) {
		case thermo.Fire:
			a, err := s.fire(ctx, lr.rule, rd)
			if err != nil {
				return err
			}
			lr.openAlert = &a.ID
			thermo.CollectEvent(ctx, thermo.EventAlertFired, a.DeviceID, a)
		case thermo.Resolve:
			if lr.openAlert != nil {
				if _, err := conn(ctx).Exec(ctx,
					`UPDATE alerts SET resolved_at = $2, version = version + 1 WHERE id = $1 AND resolved_at IS NULL`,
					*lr.openAlert, rd.RecordedAt); err != nil {
					return fmt.Errorf("resolve alert: %w", err)
				}
				thermo.CollectEvent(ctx, thermo.EventAlertResolved, lr.rule.DeviceID,
					map[string]any{"id": *lr.openAlert, "ruleId": lr.rule.ID, "deviceId": lr.rule.DeviceID, "resolvedAt": rd.RecordedAt})
			}
			lr.openAlert = nil
		}
	}
	if sameState(before, lr.state) {
		return nil
	}
	_, err := conn(ctx).Exec(ctx, `
UPDATE alert_rules SET state = $2, pending_since = $3, last_reading_at = $4, open_alert_id = $5
WHERE id = $1`, lr.rule.ID, lr.state.State, lr.state.PendingSince, lr.state.LastReadingAt, lr.openAlert)
	if err != nil {
		return fmt.Errorf("save rule state: %w", err)
	}
	return nil
}

// fire inserts the alert of rule fired by rd and its pending notification,
// and hands the alert to OnFireFunc, all in the ingest transaction.
func (s *AlertService) fire(ctx context.Context, rule *thermo.AlertRule, rd *thermo.Reading) (*thermo.Alert, error) {
	a := &thermo.Alert{
		RuleID: rule.ID, DeviceID: rd.DeviceID, ReadingID: rd.ID,
		TemperatureCelsius: rd.TemperatureCelsius, FiredAt: rd.RecordedAt, Version: 1, Rule: rule,
	}
	err := conn(ctx).QueryRow(ctx, `
INSERT INTO alerts (rule_id, device_id, reading_id, temperature_celsius, fired_at)
VALUES ($1, $2, $3, $4, $5)
RETURNING id, created_at`, a.RuleID, a.DeviceID, a.ReadingID, a.TemperatureCelsius, a.FiredAt).Scan(&a.ID, &a.CreatedAt)
	if err != nil {
		return nil, fmt.Errorf("insert alert: %w", err)
	}
	a.CreatedAt = a.CreatedAt.UTC()
	if s.OnFireFunc == nil {
		return a, nil
	}
	if _, err := conn(ctx).Exec(ctx, `INSERT INTO alert_notifications (alert_id) VALUES ($1)`, a.ID); err != nil {
		return nil, fmt.Errorf("insert notification: %w", err)
	}
	a.Notification = &thermo.NotificationStatus{Status: thermo.NotifyPending, UpdatedAt: a.CreatedAt}
	if err := s.OnFireFunc(ctx, a); err != nil {
		return nil, fmt.Errorf("on fire: %w", err)
	}
	return a, nil
}

func sameState(a, b thermo.RuleState) bool {
	return a.State == b.State && timeEq(a.PendingSince, b.PendingSince) && timeEq(a.LastReadingAt, b.LastReadingAt)
}

func timeEq(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}
