package thermo

import (
	"context"
	"encoding/json"
	"sync"
	"time"
)

// Live event types. A client sees them as the SSE event name (or the
// WebSocket message's "type").
const (
	EventReadingStored     = "reading.stored"
	EventReadingsStored    = "readings.stored" // a batch summary
	EventAlertFired        = "alert.fired"
	EventAlertResolved     = "alert.resolved"
	EventAlertAcknowledged = "alert.acknowledged"
	EventDeviceRegistered  = "device.registered"
	EventDeviceChanged     = "device.changed"
	// Control events of the stream itself.
	EventSessionReplaced = "session_replaced" // a newer session of the user took over
	EventOverflow        = "overflow"         // the client fell behind; reconnect
	EventResync          = "resync"           // Last-Event-ID is outside the resume window
)

// Event is one thing that happened in a tenant, fanned out to its live
// clients after the change committed. ID is assigned when published.
type Event struct {
	ID       string          `json:"id"`
	Type     string          `json:"type"`
	Tenant   string          `json:"-"`
	DeviceID int64           `json:"deviceId,omitempty"`
	Data     json.RawMessage `json:"data,omitempty"`
	At       time.Time       `json:"at"`
}

// NewEvent builds an event of tenant with data marshalled to JSON.
func NewEvent(tenant, typ string, deviceID int64, data any) (*Event, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, Errorf(EINTERNAL, "marshal %s event: %v", typ, err)
	}
	return &Event{Type: typ, Tenant: tenant, DeviceID: deviceID, Data: raw, At: time.Now().UTC()}, nil
}

// EventPublisher fans events out to the tenant's live clients on every
// instance. Publishing is best effort: callers log a failure, never fail
// the request whose change already committed.
type EventPublisher interface {
	PublishEvent(ctx context.Context, e *Event) error
}

// LiveSession is one open live stream of a user, as the session policy
// sees it: Generation orders sessions of the same user across instances.
type LiveSession struct {
	Tenant     string
	Subject    string
	Generation int64
}

// LiveSubscription receives one tenant's events on this instance.
type LiveSubscription interface {
	// Events delivers events in publish order. It is closed when the
	// subscription ends; Err then says why (ErrLiveOverflow if the buffer
	// filled up).
	Events() <-chan *Event
	// Sessions delivers session claims of the tenant's users.
	Sessions() <-chan LiveSession
	Err() error
	Close()
}

// LiveBroker is the cross-instance machinery behind the live stream.
type LiveBroker interface {
	EventPublisher
	// IssueTicket stores a single-use ticket for p, valid for ttl.
	IssueTicket(ctx context.Context, p Principal, ttl time.Duration) (string, error)
	// RedeemTicket returns the principal of ticket and deletes it; an
	// unknown, used or expired ticket is EUNAUTHORIZED.
	RedeemTicket(ctx context.Context, ticket string) (Principal, error)
	// Subscribe starts receiving tenant's events with a buffer of size.
	Subscribe(ctx context.Context, tenant string, size int) (LiveSubscription, error)
	// Replay returns tenant's events after lastID; ok is false when lastID
	// is no longer (or never was) in the resume window.
	Replay(ctx context.Context, tenant, lastID string) (events []*Event, ok bool, err error)
	// ClaimSession makes a new session the user's newest on every
	// instance and returns it.
	ClaimSession(ctx context.Context, tenant, subject string) (LiveSession, error)
}

// LiveSettings is a tenant's live-stream policy.
type LiveSettings struct {
	SingleSession bool `json:"singleSession" doc:"A user's newer live session closes the older one (default true)."`
}

// LiveSettingsService stores the tenant's live-stream policy.
type LiveSettingsService interface {
	FindLiveSettings(ctx context.Context) (*LiveSettings, error)
	UpdateLiveSettings(ctx context.Context, s *LiveSettings) error
}

// ErrLiveOverflow ends a subscription whose client fell behind.
var ErrLiveOverflow = &Error{Code: EUNAVAILABLE, Message: "The live client fell behind and was disconnected."}

// eventsKey carries the events collected during a request.
type eventsKey struct{}

// EventCollector gathers events raised inside a transaction so the caller
// can publish them after commit.
type EventCollector struct {
	mu     sync.Mutex
	events []*Event
}

// WithEventCollector returns ctx carrying a new collector.
func WithEventCollector(ctx context.Context) (context.Context, *EventCollector) {
	c := &EventCollector{}
	return context.WithValue(ctx, eventsKey{}, c), c
}

// CollectEvent adds an event of ctx's tenant to ctx's collector, if any.
func CollectEvent(ctx context.Context, typ string, deviceID int64, data any) {
	c, _ := ctx.Value(eventsKey{}).(*EventCollector)
	if c == nil {
		return
	}
	e, err := NewEvent(TenantFromContext(ctx), typ, deviceID, data)
	if err != nil {
		return
	}
	c.mu.Lock()
	c.events = append(c.events, e)
	c.mu.Unlock()
}

// Events returns the collected events.
func (c *EventCollector) Events() []*Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Event(nil), c.events...)
}
