package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/thermo/thermo"
)

// Live stream tuning.
const (
	// TicketTTL is how long a live ticket can be redeemed (once).
	TicketTTL = 30 * time.Second
	// LiveBuffer is how many events a client may fall behind before it is
	// told (overflow) and disconnected.
	LiveBuffer = 256
	// HeartbeatInterval keeps proxies from closing idle streams.
	HeartbeatInterval = 15 * time.Second
	// liveWriteTimeout bounds one write to a stalled client.
	liveWriteTimeout = 10 * time.Second
)

type ticketBody struct {
	Ticket    string    `json:"ticket" doc:"Pass as ?ticket= to GET /v1/live or /v1/ws within expiresAt; usable once."`
	ExpiresAt time.Time `json:"expiresAt"`
}

type ticketOutput struct {
	Body ticketBody
}

type liveSettingsOutput struct {
	Body *thermo.LiveSettings
}

type liveSettingsInput struct {
	Body thermo.LiveSettings
}

func (s *Server) registerLiveRoutes() {
	if s.live == nil {
		return
	}
	tags := []string{"live"}
	huma.Register(s.api, huma.Operation{
		OperationID: "create-live-ticket", Method: http.MethodPost, Path: "/v1/live/ticket",
		Summary: "Ticket for the live stream", Tags: tags, DefaultStatus: http.StatusCreated,
		Description: "Browsers cannot send headers on EventSource or WebSocket: this short-lived, single-use ticket, " +
			"bound to the token's tenant and subject, authenticates GET /v1/live (Server-Sent Events) or GET /v1/ws " +
			"(WebSocket) instead. Events: reading.stored, readings.stored, alert.fired, alert.resolved, alert.acknowledged, " +
			"device.registered, device.changed; control events session_replaced, overflow, resync. " +
			"Resume with Last-Event-ID (or ?lastEventId=) for 5 minutes / the last ~1000 events of the tenant.",
	}, s.createLiveTicket)
	if s.liveSettings != nil {
		huma.Register(s.api, huma.Operation{
			OperationID: "get-live-settings", Method: http.MethodGet, Path: "/v1/live/settings",
			Summary: "Live-stream policy of the tenant", Tags: tags,
		}, s.getLiveSettings)
		huma.Register(s.api, huma.Operation{
			OperationID: "put-live-settings", Method: http.MethodPut, Path: "/v1/live/settings",
			Summary: "Set the live-stream policy", Tags: tags,
			Errors: []int{http.StatusUnprocessableEntity},
		}, s.putLiveSettings)
	}
	s.handle("GET /v1/live", http.HandlerFunc(s.serveSSE))
	s.handle("GET /v1/ws", http.HandlerFunc(s.serveWS))
}

func (s *Server) createLiveTicket(ctx context.Context, _ *struct{}) (*ticketOutput, error) {
	p, ok := thermo.PrincipalFromContext(ctx)
	if !ok {
		return nil, thermo.Errorf(thermo.EUNAUTHORIZED, "A bearer token is required.")
	}
	t, err := s.live.IssueTicket(ctx, p, TicketTTL)
	if err != nil {
		return nil, fmt.Errorf("issue ticket: %w", err)
	}
	return &ticketOutput{Body: ticketBody{Ticket: t, ExpiresAt: time.Now().Add(TicketTTL).UTC()}}, nil
}

func (s *Server) getLiveSettings(ctx context.Context, _ *struct{}) (*liveSettingsOutput, error) {
	ls, err := s.liveSettings.FindLiveSettings(ctx)
	if err != nil {
		return nil, err
	}
	return &liveSettingsOutput{Body: ls}, nil
}

func (s *Server) putLiveSettings(ctx context.Context, in *liveSettingsInput) (*liveSettingsOutput, error) {
	if err := s.liveSettings.UpdateLiveSettings(ctx, &in.Body); err != nil {
		return nil, err
	}
	return &liveSettingsOutput{Body: &in.Body}, nil
}

// publish fans events out after their change committed. It is best
// effort: the change stands, a failure is logged.
func (s *Server) publish(ctx context.Context, events ...*thermo.Event) {
	if s.live == nil {
		return
	}
	ctx = context.WithoutCancel(ctx) // committed: publish even if the caller left
	for _, e := range events {
		if e == nil {
			continue
		}
		if e.Tenant == "" {
			e.Tenant = thermo.TenantFromContext(ctx)
		}
		if err := s.live.PublishEvent(ctx, e); err != nil {
			s.logger.WarnContext(ctx, "live event not published", "type", e.Type, "error", err.Error())
		}
	}
}

// publishNew builds and publishes one event of ctx's tenant.
func (s *Server) publishNew(ctx context.Context, typ string, deviceID int64, data any) {
	if s.live == nil {
		return
	}
	e, err := thermo.NewEvent(thermo.TenantFromContext(ctx), typ, deviceID, data)
	if err != nil {
		s.logger.WarnContext(ctx, "live event not built", "type", typ, "error", err.Error())
		return
	}
	s.publish(ctx, e)
}

// liveRequest is a redeemed stream request.
type liveRequest struct {
	ctx     context.Context
	p       thermo.Principal
	lastID  string
	devices map[int64]bool     // nil: all devices
	session thermo.LiveSession // Generation -1: no single-session policy
}

// openLive redeems the request's ticket and parses its options; on error
// it has answered.
func (s *Server) openLive(w http.ResponseWriter, r *http.Request) (*liveRequest, bool) {
	if s.live == nil {
		s.Error(w, r, thermo.Errorf(thermo.ENOTFOUND, "The live stream is not enabled."))
		return nil, false
	}
	q := r.URL.Query()
	p, err := s.live.RedeemTicket(r.Context(), q.Get("ticket"))
	if err != nil {
		s.Error(w, r, err)
		return nil, false
	}
	ctx := thermo.WithPrincipal(r.Context(), p)
	setPrincipal(ctx, p)
	lr := &liveRequest{ctx: ctx, p: p, lastID: r.Header.Get("Last-Event-ID")}
	if lr.lastID == "" {
		lr.lastID = q.Get("lastEventId")
	}
	if ds := q.Get("devices"); ds != "" {
		lr.devices = map[int64]bool{}
		for _, f := range strings.Split(ds, ",") {
			id, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
			if err != nil || id < 1 {
				s.Error(w, r, thermo.InvalidFields(thermo.FieldError{Field: "devices", Reason: "must be comma-separated device ids"}))
				return nil, false
			}
			lr.devices[id] = true
		}
	}
	return lr, true
}

// liveConn is one client's transport (SSE or WebSocket).
type liveConn interface {
	send(ctx context.Context, e *thermo.Event) error
	heartbeat(ctx context.Context) error
	// end tells the client why the stream stops (a control event type, or
	// "" for shutdown) and closes.
	end(ctx context.Context, reason string)
}

// liveEnd is why the server ended a stream (after telling the client).
type liveEnd string

func (e liveEnd) Error() string { return "live stream ended: " + string(e) }

// subscribe starts a stream before the client is answered: it subscribes
// to the tenant and, under the single-session policy, claims the user's
// session, so a client that got its response is the newest session.
func (s *Server) subscribe(lr *liveRequest) (thermo.LiveSubscription, error) {
	sub, err := s.live.Subscribe(lr.ctx, lr.p.TenantID, LiveBuffer)
	if err != nil {
		return nil, err
	}
	lr.session = thermo.LiveSession{Generation: -1}
	if s.singleSession(lr.ctx) {
		if lr.session, err = s.live.ClaimSession(lr.ctx, lr.p.TenantID, lr.p.Subject); err != nil {
			sub.Close()
			return nil, err
		}
	}
	return sub, nil
}

// streamLive runs one stream, counting it and why it ended.
func (s *Server) streamLive(lr *liveRequest, transport string, c liveConn, sub thermo.LiveSubscription) {
	g := s.liveMetrics.clients.WithLabelValues(transport)
	g.Inc()
	defer g.Dec()
	err := s.runLive(lr, c, sub)
	var end liveEnd
	switch {
	case err == nil:
		end = "client"
	case errors.As(err, &end):
	default:
		end = "error"
		s.logger.DebugContext(lr.ctx, "live stream stopped", "error", err.Error())
	}
	s.liveMetrics.ended.WithLabelValues(string(end)).Inc()
}

// runLive streams the tenant's events to c until the client leaves, the
// server shuts down, the client falls behind or a newer session replaces it.
func (s *Server) runLive(lr *liveRequest, c liveConn, sub thermo.LiveSubscription) error {
	ctx, mine := lr.ctx, lr.session
	defer sub.Close()
	last, err := s.replay(lr, c)
	if err != nil {
		return err
	}
	tick := time.NewTicker(HeartbeatInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.streams.Done():
			c.end(ctx, "")
			return liveEnd("shutdown")
		case <-tick.C:
			if err := c.heartbeat(ctx); err != nil {
				return err
			}
		case claim, ok := <-sub.Sessions():
			if !ok {
				return s.subscriptionEnded(ctx, c, sub)
			}
			if mine.Generation >= 0 && claim.Subject == lr.p.Subject && claim.Generation > mine.Generation {
				c.end(ctx, thermo.EventSessionReplaced)
				return liveEnd(thermo.EventSessionReplaced)
			}
		case e, ok := <-sub.Events():
			if !ok {
				return s.subscriptionEnded(ctx, c, sub)
			}
			if (last != "" && !streamIDAfter(e.ID, last)) || !lr.wants(e) {
				continue
			}
			if err := c.send(ctx, e); err != nil {
				return err
			}
		}
	}
}

func (s *Server) subscriptionEnded(ctx context.Context, c liveConn, sub thermo.LiveSubscription) error {
	if errors.Is(sub.Err(), thermo.ErrLiveOverflow) {
		s.logger.WarnContext(ctx, "live client fell behind; disconnected")
		c.end(ctx, thermo.EventOverflow)
		return liveEnd(thermo.EventOverflow)
	}
	c.end(ctx, "")
	return liveEnd("shutdown")
}

// replay sends the events after lastID (or resync when they are gone) and
// returns the id of the last one sent.
func (s *Server) replay(lr *liveRequest, c liveConn) (string, error) {
	if lr.lastID == "" {
		return "", nil
	}
	events, ok, err := s.live.Replay(lr.ctx, lr.p.TenantID, lr.lastID)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", c.send(lr.ctx, &thermo.Event{Type: thermo.EventResync, At: time.Now().UTC()})
	}
	last := lr.lastID
	for _, e := range events {
		if lr.wants(e) {
			if err := c.send(lr.ctx, e); err != nil {
				return "", err
			}
		}
		last = e.ID
	}
	return last, nil
}

func (lr *liveRequest) wants(e *thermo.Event) bool {
	return lr.devices == nil || e.DeviceID == 0 || lr.devices[e.DeviceID]
}

// singleSession reports the tenant's session policy (on when unknown).
func (s *Server) singleSession(ctx context.Context) bool {
	if s.liveSettings == nil {
		return true
	}
	ls, err := s.liveSettings.FindLiveSettings(ctx)
	if err != nil {
		s.logger.WarnContext(ctx, "live settings unavailable; single session assumed", "error", err.Error())
		return true
	}
	return ls.SingleSession
}

// streamIDAfter reports whether Redis stream id a comes after b.
func streamIDAfter(a, b string) bool {
	am, as, _ := strings.Cut(a, "-")
	bm, bs, _ := strings.Cut(b, "-")
	ami, _ := strconv.ParseUint(am, 10, 64)
	bmi, _ := strconv.ParseUint(bm, 10, 64)
	if ami != bmi {
		return ami > bmi
	}
	asi, _ := strconv.ParseUint(as, 10, 64)
	bsi, _ := strconv.ParseUint(bs, 10, 64)
	return asi > bsi
}

// CloseStreams ends every open live stream (Serve calls it on shutdown, so
// the drain does not wait for clients that never leave).
func (s *Server) CloseStreams() { s.stopStreams() }
