package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/thermo/thermo"
)

// subscribeTimeout bounds the wait for Redis to confirm a subscription.
const subscribeTimeout = 5 * time.Second

// errHubClosed ends subscriptions when the instance shuts down.
var errHubClosed = thermo.Errorf(thermo.EUNAVAILABLE, "The server is shutting down.")

// hub multiplexes this instance's live clients over one Redis pub/sub
// connection: a tenant's channel is subscribed while it has a client here.
// Dispatch never blocks: a client whose buffer is full is dropped.
type hub struct {
	rdb    *goredis.Client
	logger *slog.Logger

	mu      sync.Mutex
	ps      *goredis.PubSub
	tenants map[string]*tenantSubs
	closed  bool
}

type tenantSubs struct {
	subs  map[*subscription]struct{}
	ready chan struct{} // closed when Redis confirmed the subscription
	once  sync.Once
}

func newHub(rdb *goredis.Client, logger *slog.Logger) *hub {
	return &hub{rdb: rdb, logger: logger, tenants: map[string]*tenantSubs{}}
}

// subscription is one live client's view of its tenant's channel.
type subscription struct {
	h        *hub
	tenant   string
	events   chan *thermo.Event
	sessions chan thermo.LiveSession
	err      error // set before the channels close; guarded by h.mu
	done     bool
}

func (s *subscription) Events() <-chan *thermo.Event        { return s.events }
func (s *subscription) Sessions() <-chan thermo.LiveSession { return s.sessions }

func (s *subscription) Err() error {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	return s.err
}

func (s *subscription) Close() {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	s.h.drop(s, nil)
}

func (h *hub) subscribe(ctx context.Context, tenant string, size int) (*subscription, error) {
	sub := &subscription{h: h, tenant: tenant,
		events: make(chan *thermo.Event, size), sessions: make(chan thermo.LiveSession, 16)}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, errHubClosed
	}
	if h.ps == nil {
		h.ps = h.rdb.Subscribe(context.WithoutCancel(ctx))
		go h.run(h.ps.ChannelWithSubscriptions(goredis.WithChannelSize(1000)))
	}
	ts := h.tenants[tenant]
	if ts == nil {
		ts = &tenantSubs{subs: map[*subscription]struct{}{}, ready: make(chan struct{})}
		if err := h.ps.Subscribe(ctx, channelKey(tenant)); err != nil {
			h.mu.Unlock()
			return nil, fmt.Errorf("subscribe %s: %w", tenant, err)
		}
		h.tenants[tenant] = ts
	}
	ts.subs[sub] = struct{}{}
	h.mu.Unlock()

	timer := time.NewTimer(subscribeTimeout)
	defer timer.Stop()
	select {
	case <-ts.ready:
		return sub, nil
	case <-ctx.Done():
		sub.Close()
		return nil, ctx.Err()
	case <-timer.C:
		sub.Close()
		return nil, thermo.Errorf(thermo.EUNAVAILABLE, "The live stream is unavailable (Redis did not confirm the subscription).")
	}
}

// drop ends sub with err (nil: closed by its owner); h.mu must be held.
func (h *hub) drop(s *subscription, err error) {
	if s.done {
		return
	}
	s.done, s.err = true, err
	close(s.events)
	close(s.sessions)
	ts := h.tenants[s.tenant]
	if ts == nil {
		return
	}
	delete(ts.subs, s)
	if len(ts.subs) == 0 && !h.closed {
		delete(h.tenants, s.tenant)
		if err := h.ps.Unsubscribe(context.Background(), channelKey(s.tenant)); err != nil {
			h.logger.Warn("live unsubscribe failed", "tenant", s.tenant, "error", err.Error())
		}
	}
}

// run dispatches the pub/sub connection's messages until it is closed.
func (h *hub) run(ch <-chan any) {
	for msg := range ch {
		switch m := msg.(type) {
		case *goredis.Subscription:
			if m.Kind == "subscribe" {
				h.markReady(tenantOf(m.Channel))
			}
		case *goredis.Message:
			h.dispatch(m)
		}
	}
}

func (h *hub) markReady(tenant string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if ts := h.tenants[tenant]; ts != nil {
		ts.once.Do(func() { close(ts.ready) })
	}
}

func (h *hub) dispatch(m *goredis.Message) {
	tenant := tenantOf(m.Channel)
	e, claim, err := parseMessage(tenant, m.Payload)
	if err != nil {
		h.logger.Warn("live message dropped", "tenant", tenant, "error", err.Error())
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	ts := h.tenants[tenant]
	if ts == nil {
		return
	}
	for s := range ts.subs {
		var ok bool
		if e != nil {
			ok = trySend(s.events, e)
		} else {
			ok = trySend(s.sessions, *claim)
		}
		if !ok {
			h.drop(s, thermo.ErrLiveOverflow)
		}
	}
}

func trySend[T any](ch chan T, v T) bool {
	select {
	case ch <- v:
		return true
	default:
		return false
	}
}

// close ends every subscription and the pub/sub connection.
func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	for _, ts := range h.tenants {
		for s := range ts.subs {
			h.drop(s, errHubClosed)
		}
	}
	h.tenants = map[string]*tenantSubs{}
	if h.ps != nil {
		if err := h.ps.Close(); err != nil && !errors.Is(err, goredis.ErrClosed) {
			h.logger.Warn("live pub/sub close", "error", err.Error())
		}
	}
}

// tenantOf extracts the tenant from a channel name made by channelKey.
func tenantOf(channel string) string {
	s := strings.TrimPrefix(channel, "thermo:live:{")
	return strings.TrimSuffix(s, "}")
}
