package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/thermo/thermo"
)

// serveSSE is GET /v1/live: the tenant's events as Server-Sent Events.
// Each event's id is its resume position; data is the event as JSON.
func (s *Server) serveSSE(w http.ResponseWriter, r *http.Request) {
	lr, ok := s.openLive(w, r)
	if !ok {
		return
	}
	sub, err := s.subscribe(lr)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	c := &sseConn{w: w, rc: http.NewResponseController(w)}
	if err := c.write([]byte("retry: 2000\n: connected\n\n")); err != nil {
		sub.Close()
		return
	}
	s.streamLive(lr, "sse", c, sub)
}

type sseConn struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

// write sends b and flushes it, giving a stalled client liveWriteTimeout.
func (c *sseConn) write(b []byte) error {
	_ = c.rc.SetWriteDeadline(time.Now().Add(liveWriteTimeout))
	if _, err := c.w.Write(b); err != nil {
		return err
	}
	return c.rc.Flush()
}

func (c *sseConn) send(_ context.Context, e *thermo.Event) error {
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if e.ID != "" {
		b.WriteString("id: " + e.ID + "\n")
	}
	b.WriteString("event: " + e.Type + "\ndata: ")
	b.Write(data)
	b.WriteString("\n\n")
	return c.write(b.Bytes())
}

func (c *sseConn) heartbeat(context.Context) error { return c.write([]byte(": heartbeat\n\n")) }

func (c *sseConn) end(ctx context.Context, reason string) {
	if reason != "" {
		_ = c.send(ctx, &thermo.Event{Type: reason, At: time.Now().UTC()})
	}
}

// WebSocket close codes of the live stream (4000-4999: application).
const (
	wsCloseSessionReplaced websocket.StatusCode = 4001
	wsCloseOverflow        websocket.StatusCode = 4002
)

// serveWS is GET /v1/ws: the same events as /v1/live, one JSON text
// message each.
func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	lr, ok := s.openLive(w, r)
	if !ok {
		return
	}
	sub, err := s.subscribe(lr)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	conn, err := websocket.Accept(w, r, nil) // same-origin check by default
	if err != nil {
		sub.Close()
		return
	}
	defer conn.CloseNow()
	lr.ctx = conn.CloseRead(lr.ctx) // handles pings/close; done when the client leaves
	s.streamLive(lr, "ws", &wsConn{c: conn}, sub)
}

type wsConn struct {
	c *websocket.Conn
}

func (c *wsConn) send(ctx context.Context, e *thermo.Event) error {
	ctx, cancel := context.WithTimeout(ctx, liveWriteTimeout)
	defer cancel()
	return wsjson.Write(ctx, c.c, e)
}

func (c *wsConn) heartbeat(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, liveWriteTimeout)
	defer cancel()
	return c.c.Ping(ctx)
}

func (c *wsConn) end(ctx context.Context, reason string) {
	code := websocket.StatusGoingAway
	switch reason {
	case thermo.EventSessionReplaced:
		code = wsCloseSessionReplaced
	case thermo.EventOverflow:
		code = wsCloseOverflow
	}
	if reason != "" {
		_ = c.send(ctx, &thermo.Event{Type: reason, At: time.Now().UTC()})
	} else {
		reason = "server shutting down"
	}
	_ = c.c.Close(code, reason)
}
