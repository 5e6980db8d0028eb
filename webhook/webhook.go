// Package webhook delivers alert events to a tenant's HTTP endpoint: a JSON
// POST signed with the tenant's secret. It implements thermo.Notifier;
// retries are the caller's (the notification job's) business.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/thermo/thermo"
)

// SignatureHeader carries "sha256=<hex HMAC-SHA256(body, secret)>".
const SignatureHeader = "X-Thermo-Signature"

// DefaultTimeout bounds one delivery attempt.
const DefaultTimeout = 10 * time.Second

var _ thermo.Notifier = (*Notifier)(nil)

// Notifier posts events to the webhook of the tenant in ctx.
type Notifier struct {
	Webhooks thermo.WebhookService
	// Client sends the requests; a client with Timeout DefaultTimeout if nil.
	Client *http.Client
}

// New returns a Notifier reading webhooks from ws.
func New(ws thermo.WebhookService) *Notifier {
	return &Notifier{Webhooks: ws, Client: &http.Client{Timeout: DefaultTimeout}}
}

// Sign returns the signature header value of body under secret.
func Sign(body []byte, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether sig is body's signature under secret, in
// constant time (for receivers and tests).
func Verify(body []byte, secret, sig string) bool {
	return hmac.Equal([]byte(Sign(body, secret)), []byte(sig))
}

// Notify posts ev. A missing webhook or a 4xx answer (other than 408 and
// 429) is not retryable; network errors, timeouts and 5xx are.
func (n *Notifier) Notify(ctx context.Context, ev *thermo.AlertEvent) error {
	hook, err := n.Webhooks.FindWebhook(ctx)
	if thermo.ErrorCode(err) == thermo.ENOTFOUND {
		return fmt.Errorf("%w: the tenant has no webhook configured", thermo.ErrNotRetryable)
	} else if err != nil {
		return fmt.Errorf("find webhook: %w", err)
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("%w: encode event: %w", thermo.ErrNotRetryable, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: build request: %w", thermo.ErrNotRetryable, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "thermo-webhook/1")
	req.Header.Set("X-Thermo-Event", ev.Type)
	req.Header.Set(SignatureHeader, Sign(body, hook.Secret))
	if id := thermo.RequestIDFromContext(ctx); id != "" {
		req.Header.Set("X-Request-Id", id)
	}
	client := n.Client
	if client == nil {
		client = &http.Client{Timeout: DefaultTimeout}
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("post webhook: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch s := resp.StatusCode; {
	case s >= 200 && s < 300:
		return nil
	case s >= 500, s == http.StatusRequestTimeout, s == http.StatusTooManyRequests:
		return fmt.Errorf("webhook answered %d", s)
	default:
		return fmt.Errorf("%w: webhook answered %d", thermo.ErrNotRetryable, s)
	}
}
