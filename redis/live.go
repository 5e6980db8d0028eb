package redis

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/thermo/thermo"
)

// Live stream defaults.
const (
	// ResumeWindow is how far back Last-Event-ID can resume: events older
	// than this, or beyond the newest ~ResumeEvents of the tenant, are gone.
	ResumeWindow = 5 * time.Minute
	ResumeEvents = 1000
	// publishBackoff: after a failed publish, publishing is skipped for
	// this long, so a Redis outage costs ingestion one timeout, not one
	// per request.
	publishBackoff = 5 * time.Second
)

var _ thermo.LiveBroker = (*Live)(nil)

// Live fans events out across instances: each event is appended to the
// tenant's capped stream (the resume window) and published on the tenant's
// channel, atomically, by one script (concurrent events of a tenant share
// one call); every instance subscribes to the channels of the tenants it
// has live clients for.
type Live struct {
	c      *Client
	logger *slog.Logger
	hub    *hub
	pub    *publisher
}

// NewLive returns a Live over c. Close stops its subscriptions.
func NewLive(c *Client, logger *slog.Logger) *Live {
	if logger == nil {
		logger = slog.Default()
	}
	return &Live{c: c, logger: logger, hub: newHub(c.rdb, logger), pub: newPublisher(c.rdb)}
}

// Close ends every subscription of this instance.
func (l *Live) Close() { l.hub.close() }

func streamKey(tenant string) string     { return "thermo:live:{" + tenant + "}:stream" }
func channelKey(tenant string) string    { return "thermo:live:{" + tenant + "}" }
func sessionSeqKey(tenant string) string { return "thermo:live:{" + tenant + "}:session-seq" }
func ticketKey(ticket string) string {
	sum := sha256.Sum256([]byte(ticket))
	return "thermo:live:ticket:" + hex.EncodeToString(sum[:])
}

// PublishEvent stores e in the tenant's resume window and publishes it; it
// sets e.ID. Concurrent calls for a tenant share a script call (see
// live_publish.go); each still returns only once its event is stored and
// published, or with its own error.
func (l *Live) PublishEvent(ctx context.Context, e *thermo.Event) error {
	if err := thermo.ValidateTenantID(e.Tenant); err != nil {
		return err
	}
	if l.pub.paused() {
		return errPublishPaused
	}
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("marshal event: %w", err)
	}
	id, err := l.pub.publish(ctx, e.Tenant, data)
	if err != nil {
		return fmt.Errorf("publish %s event: %w", e.Type, err)
	}
	e.ID = id
	return nil
}

// Replay returns the tenant's events after lastID, or ok false when lastID
// is not in the resume window (trimmed, too old, or never issued).
func (l *Live) Replay(ctx context.Context, tenant, lastID string) ([]*thermo.Event, bool, error) {
	ms, ok := streamIDTime(lastID)
	if !ok || time.Since(time.UnixMilli(ms)) > ResumeWindow {
		return nil, false, nil
	}
	msgs, err := l.c.rdb.XRangeN(ctx, streamKey(tenant), lastID, "+", ResumeEvents+100).Result()
	if err != nil {
		return nil, false, l.unavailable("replay events", err)
	}
	if len(msgs) == 0 || msgs[0].ID != lastID {
		return nil, false, nil
	}
	out := make([]*thermo.Event, 0, len(msgs)-1)
	for _, m := range msgs[1:] {
		s, _ := m.Values["e"].(string)
		e, err := decodeEvent(m.ID, tenant, s)
		if err != nil {
			return nil, false, err
		}
		out = append(out, e)
	}
	return out, true, nil
}

// streamIDTime returns the millisecond part of a stream id "ms-seq".
func streamIDTime(id string) (int64, bool) {
	msPart, seq, ok := strings.Cut(id, "-")
	if !ok {
		return 0, false
	}
	ms, err := strconv.ParseInt(msPart, 10, 64)
	if _, serr := strconv.ParseUint(seq, 10, 64); err != nil || serr != nil {
		return 0, false
	}
	return ms, true
}

func decodeEvent(id, tenant, data string) (*thermo.Event, error) {
	e := &thermo.Event{}
	if err := json.Unmarshal([]byte(data), e); err != nil {
		return nil, fmt.Errorf("decode event %s: %w", id, err)
	}
	e.ID, e.Tenant = id, tenant
	return e, nil
}

// IssueTicket stores a random single-use ticket for p (only its hash is a
// key) and returns it.
func (l *Live) IssueTicket(ctx context.Context, p thermo.Principal, ttl time.Duration) (string, error) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	ticket := base64.RawURLEncoding.EncodeToString(b)
	data, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("marshal ticket: %w", err)
	}
	if err := l.c.rdb.Set(ctx, ticketKey(ticket), data, ttl).Err(); err != nil {
		return "", l.unavailable("store ticket", err)
	}
	return ticket, nil
}

// RedeemTicket returns the ticket's principal and deletes the ticket
// (GETDEL: two redemptions race, one wins).
func (l *Live) RedeemTicket(ctx context.Context, ticket string) (thermo.Principal, error) {
	var p thermo.Principal
	if ticket == "" || len(ticket) > 100 {
		return p, thermo.Errorf(thermo.EUNAUTHORIZED, "A live ticket is required.")
	}
	data, err := l.c.rdb.GetDel(ctx, ticketKey(ticket)).Bytes()
	if errors.Is(err, goredis.Nil) {
		return p, thermo.Errorf(thermo.EUNAUTHORIZED, "The live ticket is unknown, used or expired.")
	} else if err != nil {
		return p, l.unavailable("redeem ticket", err)
	}
	if err := json.Unmarshal(data, &p); err != nil {
		return p, fmt.Errorf("decode ticket: %w", err)
	}
	return p, nil
}

// claimScript takes the tenant's next session generation (a counter that
// never expires, so generations only grow) and announces it with the user
// on the tenant's channel in one step: announcements arrive in claim order.
var claimScript = goredis.NewScript(`
local gen = redis.call('INCR', KEYS[1])
redis.call('PUBLISH', KEYS[2], 's' .. gen .. '\n' .. ARGV[1])
return gen`)

// ClaimSession makes a new session the newest of its user.
func (l *Live) ClaimSession(ctx context.Context, tenant, subject string) (thermo.LiveSession, error) {
	s := thermo.LiveSession{Tenant: tenant, Subject: subject}
	gen, err := claimScript.Run(ctx, l.c.rdb, []string{sessionSeqKey(tenant), channelKey(tenant)}, subject).Int64()
	if err != nil {
		return s, l.unavailable("claim session", err)
	}
	s.Generation = gen
	return s, nil
}

// Subscribe receives tenant's events on this instance; it returns once
// Redis confirmed the channel subscription, so nothing published after
// it returns is missed.
func (l *Live) Subscribe(ctx context.Context, tenant string, size int) (thermo.LiveSubscription, error) {
	if err := thermo.ValidateTenantID(tenant); err != nil {
		return nil, err
	}
	sub, err := l.hub.subscribe(ctx, tenant, size)
	if err != nil && thermo.ErrorCode(err) == thermo.EINTERNAL {
		return nil, l.unavailable("subscribe", err)
	}
	return sub, err
}

// unavailable logs a Redis failure and returns what the client is told:
// the live stream is unavailable (503), the API itself is not.
func (l *Live) unavailable(op string, err error) error {
	l.logger.Warn("live: redis failed", "op", op, "error", err.Error())
	return thermo.Errorf(thermo.EUNAVAILABLE, "The live stream is unavailable right now; try again shortly.")
}

// parseMessage splits a channel payload into an event or a session claim.
func parseMessage(tenant, payload string) (*thermo.Event, *thermo.LiveSession, error) {
	if payload == "" {
		return nil, nil, errors.New("empty live message")
	}
	head, body, ok := strings.Cut(payload[1:], "\n")
	if !ok {
		return nil, nil, errors.New("malformed live message")
	}
	switch payload[0] {
	case 'e':
		e, err := decodeEvent(head, tenant, body)
		return e, nil, err
	case 's':
		gen, err := strconv.ParseInt(head, 10, 64)
		if err != nil {
			return nil, nil, fmt.Errorf("session generation: %w", err)
		}
		return nil, &thermo.LiveSession{Tenant: tenant, Subject: body, Generation: gen}, nil
	}
	return nil, nil, fmt.Errorf("unknown live message kind %q", payload[0])
}
