package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/thermo/thermo"
)

// NotifyArgs is the job that delivers the notification of a fired alert.
type NotifyArgs struct {
	Meta    Meta  `json:"meta"`
	AlertID int64 `json:"alertId"`
}

// Kind names the job in River.
func (NotifyArgs) Kind() string { return "alert_notify" }

// Notification delivery defaults.
const (
	DefaultNotifyAttempts  = 8
	DefaultNotifyRetryBase = 10 * time.Second
	maxNotifyRetryDelay    = time.Hour
)

// NotifyOpts configures the notification job, on both sides: enqueueing
// (Queue, MaxAttempts) and working (the rest).
type NotifyOpts struct {
	Alerts   thermo.AlertService
	Notifier thermo.Notifier
	Logger   *slog.Logger
	// Queue is the River queue (river.QueueDefault if "").
	Queue string
	// MaxAttempts is how many deliveries are tried before giving up
	// (DefaultNotifyAttempts if 0).
	MaxAttempts int
	// RetryBase is the first retry delay; each retry doubles it, up to an
	// hour (DefaultNotifyRetryBase if 0).
	RetryBase time.Duration
}

func (o NotifyOpts) withDefaults() NotifyOpts {
	if o.Queue == "" {
		o.Queue = river.QueueDefault
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultNotifyAttempts
	}
	if o.RetryBase <= 0 {
		o.RetryBase = DefaultNotifyRetryBase
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// RegisterNotify adds the notification worker to workers.
func RegisterNotify(workers *river.Workers, opts NotifyOpts) {
	river.AddWorker(workers, &notifyWorker{opts: opts.withDefaults()})
}

// NotifyAlertFunc returns the function that enqueues an alert's
// notification; it is postgres.AlertService.OnFireFunc. Called in the
// ingest transaction, the job commits or rolls back with the alert.
func NotifyAlertFunc(c *Client, opts NotifyOpts) func(context.Context, *thermo.Alert) error {
	opts = opts.withDefaults()
	return func(ctx context.Context, a *thermo.Alert) error {
		_, err := c.Enqueue(ctx, NotifyArgs{Meta: MetaFromContext(ctx), AlertID: a.ID},
			&river.InsertOpts{Queue: opts.Queue, MaxAttempts: opts.MaxAttempts})
		return err
	}
}

// notifyWorker delivers one alert's notification per attempt and records
// the outcome; River retries it with exponential backoff.
type notifyWorker struct {
	river.WorkerDefaults[NotifyArgs]
	opts NotifyOpts
}

// NextRetry doubles the delay after every failed attempt.
func (w *notifyWorker) NextRetry(job *river.Job[NotifyArgs]) time.Time {
	d := w.opts.RetryBase << min(max(job.Attempt-1, 0), 20)
	return time.Now().Add(min(d, maxNotifyRetryDelay))
}

// Timeout bounds one attempt (the HTTP client has its own, shorter one).
func (w *notifyWorker) Timeout(*river.Job[NotifyArgs]) time.Duration { return time.Minute }

func (w *notifyWorker) Work(ctx context.Context, job *river.Job[NotifyArgs]) error {
	log := w.opts.Logger.With("alert_id", job.Args.AlertID, "attempt", job.Attempt)
	a, err := w.opts.Alerts.FindAlertByID(ctx, job.Args.AlertID)
	if thermo.ErrorCode(err) == thermo.ENOTFOUND {
		log.InfoContext(ctx, "alert notification dropped: the alert was deleted")
		return river.JobCancel(err)
	} else if err != nil {
		return fmt.Errorf("find alert: %w", err)
	}
	ev := &thermo.AlertEvent{Type: "alert.fired", Tenant: thermo.TenantFromContext(ctx), Alert: a, SentAt: time.Now().UTC()}
	sendErr := w.opts.Notifier.Notify(ctx, ev)
	st := thermo.NotificationStatus{Status: thermo.NotifyPending, Attempts: job.Attempt}
	final := errors.Is(sendErr, thermo.ErrNotRetryable) || job.Attempt >= job.MaxAttempts
	switch {
	case sendErr == nil:
		st.Status = thermo.NotifyDelivered
		log.InfoContext(ctx, "alert notification delivered")
	case final:
		st.Status, st.LastError = thermo.NotifyFailed, sendErr.Error()
		log.WarnContext(ctx, "alert notification failed; giving up", "error", sendErr.Error())
	default:
		st.LastError = sendErr.Error()
		log.WarnContext(ctx, "alert notification failed; will retry", "error", sendErr.Error())
	}
	if err := w.opts.Alerts.RecordNotification(ctx, a.ID, st); err != nil {
		// Retrying may deliver twice: notifications are at least once.
		return fmt.Errorf("record notification: %w", err)
	}
	if sendErr != nil && final {
		return river.JobCancel(sendErr)
	}
	return sendErr
}
