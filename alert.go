package thermo

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"
)

// AlertCondition says on which side of its threshold a rule is violated.
type AlertCondition string

// Alert conditions.
const (
	ConditionAbove AlertCondition = "above"
	ConditionBelow AlertCondition = "below"
)

// Rule states. A rule is ok, pending (violated, but not yet for ForSeconds)
// or firing (an open alert exists).
const (
	RuleOK      = "ok"
	RulePending = "pending"
	RuleFiring  = "firing"
)

// Rule limits.
const (
	MaxRuleForSeconds         = 7 * 24 * 3600
	MaxClearHysteresisCelsius = 100
)

// AlertRule watches one device's temperature. It fires when the condition
// has held for ForSeconds (judged by reading timestamps) and clears when the
// temperature comes back ClearHysteresisCelsius inside the threshold.
type AlertRule struct {
	ID                     int64          `json:"id"`
	DeviceID               int64          `json:"deviceId"`
	Condition              AlertCondition `json:"condition" enum:"above,below"`
	ThresholdCelsius       float64        `json:"thresholdCelsius"`
	ForSeconds             int            `json:"forSeconds"`
	ClearHysteresisCelsius float64        `json:"clearHysteresisCelsius"`
	IsEnabled              bool           `json:"isEnabled"`
	State                  string         `json:"state" enum:"ok,pending,firing" doc:"Evaluation state, moved only by readings."`
	CreatedAt              time.Time      `json:"createdAt"`
	UpdatedAt              time.Time      `json:"updatedAt"`
}

// Validate checks a rule's definition.
func (r *AlertRule) Validate() error {
	errs := validateRule(&r.Condition, &r.ThresholdCelsius, &r.ForSeconds, &r.ClearHysteresisCelsius)
	if len(errs) > 0 {
		return InvalidFields(errs...)
	}
	return nil
}

func validateRule(cond *AlertCondition, threshold *float64, forSeconds *int, hysteresis *float64) []FieldError {
	var errs []FieldError
	if cond != nil && *cond != ConditionAbove && *cond != ConditionBelow {
		errs = append(errs, FieldError{Field: "condition", Reason: "must be above or below"})
	}
	if threshold != nil && !inRange(*threshold, MinTemperatureCelsius, MaxTemperatureCelsius) {
		errs = append(errs, FieldError{Field: "thresholdCelsius", Reason: "must be a finite number from -273.15 to 1000"})
	}
	if forSeconds != nil && (*forSeconds < 0 || *forSeconds > MaxRuleForSeconds) {
		errs = append(errs, FieldError{Field: "forSeconds", Reason: fmt.Sprintf("must be from 0 to %d", MaxRuleForSeconds)})
	}
	if hysteresis != nil && !inRange(*hysteresis, 0, MaxClearHysteresisCelsius) {
		errs = append(errs, FieldError{Field: "clearHysteresisCelsius", Reason: "must be a finite number from 0 to 100"})
	}
	return errs
}

// Violated reports whether celsius breaks the rule's condition.
func (r *AlertRule) Violated(celsius float64) bool {
	if r.Condition == ConditionBelow {
		return celsius < r.ThresholdCelsius
	}
	return celsius > r.ThresholdCelsius
}

// Cleared reports whether celsius is back inside the threshold by the
// hysteresis, which ends a firing alert.
func (r *AlertRule) Cleared(celsius float64) bool {
	if r.Condition == ConditionBelow {
		return celsius >= r.ThresholdCelsius+r.ClearHysteresisCelsius
	}
	return celsius <= r.ThresholdCelsius-r.ClearHysteresisCelsius
}

// AlertRuleUpdate changes the fields that are not nil.
type AlertRuleUpdate struct {
	Condition              *AlertCondition `json:"condition,omitempty" enum:"above,below"`
	ThresholdCelsius       *float64        `json:"thresholdCelsius,omitempty"`
	ForSeconds             *int            `json:"forSeconds,omitempty"`
	ClearHysteresisCelsius *float64        `json:"clearHysteresisCelsius,omitempty"`
	IsEnabled              *bool           `json:"isEnabled,omitempty"`
}

// Validate checks the fields the update sets.
func (u AlertRuleUpdate) Validate() error {
	if errs := validateRule(u.Condition, u.ThresholdCelsius, u.ForSeconds, u.ClearHysteresisCelsius); len(errs) > 0 {
		return InvalidFields(errs...)
	}
	return nil
}

// Alert is one episode of a rule firing: it opens when the rule enters
// firing and is resolved when the rule clears.
type Alert struct {
	ID                 int64   `json:"id"`
	RuleID             int64   `json:"ruleId"`
	DeviceID           int64   `json:"deviceId"`
	TemperatureCelsius float64 `json:"temperatureCelsius" doc:"The reading that fired the alert."`
	ReadingID          int64   `json:"readingId"`
	// FiredAt and ResolvedAt are reading timestamps (event time), not the
	// time the server evaluated them.
	FiredAt        time.Time           `json:"firedAt" doc:"recordedAt of the reading that fired the alert."`
	ResolvedAt     *time.Time          `json:"resolvedAt" doc:"recordedAt of the reading that cleared it; null while firing."`
	AcknowledgedBy *string             `json:"acknowledgedBy" doc:"Token subject of who acknowledged it."`
	AcknowledgedAt *time.Time          `json:"acknowledgedAt"`
	Version        int64               `json:"version" doc:"Optimistic-lock version; send it as If-Match to acknowledge."`
	CreatedAt      time.Time           `json:"createdAt"`
	Rule           *AlertRule          `json:"rule"`
	Notification   *NotificationStatus `json:"notification" doc:"Delivery of the alert's notification; null if none was sent."`
}

// State is "firing" or "resolved".
func (a *Alert) State() string {
	if a.ResolvedAt == nil {
		return RuleFiring
	}
	return "resolved"
}

// Notification delivery statuses.
const (
	NotifyPending   = "pending"
	NotifyDelivered = "delivered"
	NotifyFailed    = "failed"
)

// NotificationStatus records the delivery of an alert's notification.
type NotificationStatus struct {
	Status    string    `json:"status" enum:"pending,delivered,failed"`
	Attempts  int       `json:"attempts"`
	LastError string    `json:"lastError,omitempty"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// AlertFilter selects alerts, newest first. Nil fields mean "any".
type AlertFilter struct {
	DeviceID *int64
	// State is "firing", "resolved" or "" (both).
	State        string
	Acknowledged *bool
	// BeforeID is the keyset cursor: only alerts with a smaller id.
	BeforeID int64
	Limit    int
}

// PageLimit returns the filter's page size with defaults applied.
func (f AlertFilter) PageLimit() int { return pageLimit(f.Limit) }

// AlertService manages alert rules and alerts of the tenant in ctx. Rules
// live under a device; a device or rule of another tenant is ENOTFOUND.
type AlertService interface {
	CreateAlertRule(ctx context.Context, r *AlertRule) error
	FindAlertRules(ctx context.Context, deviceID int64) ([]*AlertRule, error)
	FindAlertRule(ctx context.Context, deviceID, id int64) (*AlertRule, error)
	UpdateAlertRule(ctx context.Context, deviceID, id int64, upd AlertRuleUpdate) (*AlertRule, error)
	// DeleteAlertRule removes a rule and its alerts.
	DeleteAlertRule(ctx context.Context, deviceID, id int64) error

	// FindAlerts returns one page, newest first, each with its rule, and
	// whether more follow.
	FindAlerts(ctx context.Context, f AlertFilter) ([]*Alert, bool, error)
	FindAlertByID(ctx context.Context, id int64) (*Alert, error)
	// AcknowledgeAlert records that subject acknowledged the alert if its
	// version is still version. A stale version is EPRECONDITION and the
	// current alert is returned with the error.
	AcknowledgeAlert(ctx context.Context, id, version int64, subject string) (*Alert, error)
	// RecordNotification stores the outcome of a delivery attempt.
	RecordNotification(ctx context.Context, alertID int64, st NotificationStatus) error
}

// Webhook is a tenant's notification endpoint. Secret signs each body.
type Webhook struct {
	URL       string    `json:"url"`
	Secret    string    `json:"-"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Validate checks the URL and, if set, the secret.
func (w *Webhook) Validate() error {
	var errs []FieldError
	u, err := url.Parse(w.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(w.URL) > 2000 {
		errs = append(errs, FieldError{Field: "url", Reason: "must be an absolute http(s) URL of at most 2000 characters"})
	}
	if w.Secret != "" && (len(w.Secret) < 16 || len(w.Secret) > 256) {
		errs = append(errs, FieldError{Field: "secret", Reason: "must be 16 to 256 characters"})
	}
	if len(errs) > 0 {
		return InvalidFields(errs...)
	}
	return nil
}

// WebhookService stores the tenant's webhook.
type WebhookService interface {
	// SetWebhook replaces the tenant's webhook; an empty w.Secret is
	// generated and set in w.
	SetWebhook(ctx context.Context, w *Webhook) error
	// FindWebhook returns the webhook, secret included; ENOTFOUND if none.
	FindWebhook(ctx context.Context) (*Webhook, error)
}

// AlertEvent is what a notification says about an alert.
type AlertEvent struct {
	Type   string    `json:"type"` // "alert.fired"
	Tenant string    `json:"tenant"`
	Alert  *Alert    `json:"alert"`
	SentAt time.Time `json:"sentAt"`
}

// Notifier delivers alert events to one channel (webhook; FCM or APNs
// later). An error wrapping ErrNotRetryable will fail again if retried.
type Notifier interface {
	Notify(ctx context.Context, ev *AlertEvent) error
}

// ErrNotRetryable marks a delivery failure that retrying cannot fix (no
// channel configured, a 4xx answer).
var ErrNotRetryable = errors.New("not retryable")

// RuleState is where a rule's evaluation stands. LastReadingAt is the
// newest reading that moved it: older (late) readings are stored but do not
// move the state machine, so an out-of-order batch can neither re-fire a
// resolved episode nor clear a current one with stale data.
type RuleState struct {
	State         string
	PendingSince  *time.Time // first reading of the current violation
	LastReadingAt *time.Time
}

// Transition is what one reading did to a rule.
type Transition int

// Transitions of the ok → pending → firing → ok state machine.
const (
	NoTransition Transition = iota
	Fire
	Resolve
)

// Step moves st by one reading (readings must come oldest first) and
// reports whether the rule fired or resolved. Pending becomes firing once
// the violation has held for ForSeconds between the first violating
// reading and this one; any reading inside the threshold ends pending.
// Firing ends only when a reading is Cleared (hysteresis).
func (r *AlertRule) Step(st *RuleState, rd *Reading) Transition {
	at := rd.RecordedAt
	if st.LastReadingAt != nil && !at.After(*st.LastReadingAt) {
		return NoTransition
	}
	st.LastReadingAt = &at
	switch st.State {
	case RuleFiring:
		if r.Cleared(rd.TemperatureCelsius) {
			st.State = RuleOK
			return Resolve
		}
	default: // ok or pending
		if !r.Violated(rd.TemperatureCelsius) {
			st.State, st.PendingSince = RuleOK, nil
			return NoTransition
		}
		if st.PendingSince == nil {
			st.PendingSince = &at
		}
		if at.Sub(*st.PendingSince) >= time.Duration(r.ForSeconds)*time.Second {
			st.State, st.PendingSince = RuleFiring, nil
			return Fire
		}
		st.State = RulePending
	}
	return NoTransition
}
