package e2e_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/thermo/thermo/httpapi"
	"github.com/thermo/thermo/postgres"
	"github.com/thermo/thermo/redis"
)

// eventTimeout only keeps a broken test from hanging; nothing is timed.
const eventTimeout = 20 * time.Second

// withLive gives an instance its own Redis connection and live hub, as a
// separate process would have.
func withLive(t *testing.T) func(*bundle, *httpapi.ServerOpts) {
	return func(b *bundle, o *httpapi.ServerOpts) {
		rc, err := redis.Open(context.Background(), testRedisURL())
		if err != nil {
			t.Fatalf("open redis: %v", err)
		}
		live := redis.NewLive(rc, nil)
		t.Cleanup(rc.Close)
		t.Cleanup(live.Close)
		o.Live = live
		o.LiveSettings = postgres.NewLiveSettingsService(b.db)
	}
}

// setupTwo serves two instances over one database and one Redis.
func setupTwo(t *testing.T) (a, b *bundle) {
	a = setup(t, withLive(t))
	bb := *a
	bb.url = a.serve(t, withLive(t))
	return a, &bb
}

// on returns a client of the same user talking to instance b.
func (c *client) on(b *bundle) *client { cc := *c; cc.b = b; return &cc }

// liveEvent is one SSE event (or WebSocket message) as a client sees it.
type liveEvent struct {
	ID   string
	Type string `json:"type"`
	Data struct {
		DeviceID           int64   `json:"deviceId"`
		TemperatureCelsius float64 `json:"temperatureCelsius"`
	} `json:"data"`
}

// sseStream reads GET /v1/live.
type sseStream struct {
	resp   *http.Response
	events chan liveEvent
}

func (c *client) ticket(t *testing.T) string {
	t.Helper()
	var out struct{ Ticket string }
	c.call(t, http.MethodPost, "/v1/live/ticket", nil, http.StatusCreated, &out)
	return out.Ticket
}

// openSSE opens the stream with a fresh ticket; lastID, if set, resumes.
func (c *client) openSSE(t *testing.T, lastID string) *sseStream {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.b.url+"/v1/live?ticket="+c.ticket(t), nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET /v1/live: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/live = %d", resp.StatusCode)
	}
	s := &sseStream{resp: resp, events: make(chan liveEvent, 100)}
	t.Cleanup(func() { resp.Body.Close() })
	go s.read()
	return s
}

func (s *sseStream) read() {
	defer close(s.events)
	sc := bufio.NewScanner(s.resp.Body)
	var e liveEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if e.Type != "" {
				s.events <- e
			}
			e = liveEvent{}
		case strings.HasPrefix(line, "id: "):
			e.ID = line[4:]
		case strings.HasPrefix(line, "event: "):
			e.Type = line[7:]
		case strings.HasPrefix(line, "data: "):
			_ = json.Unmarshal([]byte(line[6:]), &e)
		}
	}
}

// next returns the next event of one of types (others are skipped); ok is
// false when the stream ended.
func (s *sseStream) next(t *testing.T, types ...string) (liveEvent, bool) {
	t.Helper()
	timer := time.NewTimer(eventTimeout)
	defer timer.Stop()
	for {
		select {
		case e, ok := <-s.events:
			if !ok {
				return e, false
			}
			for _, typ := range types {
				if e.Type == typ {
					return e, true
				}
			}
		case <-timer.C:
			t.Fatalf("no %v event within %s", types, eventTimeout)
		}
	}
}

func (c *client) postReading(t *testing.T, deviceID int64, celsius float64) {
	t.Helper()
	c.call(t, http.MethodPost, path("/v1/devices/%d/readings", deviceID),
		newReading{TemperatureCelsius: celsius, RecordedAt: time.Now().UTC().Truncate(time.Millisecond)}, http.StatusCreated, nil)
}

// TestLive_FanOutAcrossInstances: a reading posted on instance A reaches a
// client of the tenant on instance B, never a client of another tenant;
// a ticket works once; Last-Event-ID resumes.
func TestLive_FanOutAcrossInstances(t *testing.T) {
	t.Parallel()
	a, b := setupTwo(t)
	alice, bob := a.newTenant(t), a.newTenant(t)
	da, db := alice.createDevice(t, "LIVE-A"), bob.createDevice(t, "LIVE-B")

	aliceOnB, bobOnB := alice.on(b).openSSE(t, ""), bob.on(b).openSSE(t, "")
	alice.postReading(t, da.ID, 21.5)
	got, ok := aliceOnB.next(t, "reading.stored")
	if !ok || got.Data.DeviceID != da.ID || got.Data.TemperatureCelsius != 21.5 || got.ID == "" {
		t.Fatalf("alice on B got %+v (ok %v), want her reading of 21.5 with an id", got, ok)
	}
	bob.postReading(t, db.ID, 33.25)
	if got, _ := bobOnB.next(t, "reading.stored"); got.Data.TemperatureCelsius != 33.25 {
		t.Fatalf("bob's first event is %+v, want his own reading (another tenant's leaked?)", got)
	}

	// A ticket is single-use.
	tk := alice.ticket(t)
	resp, err := http.Get(b.url + "/v1/live?ticket=" + tk)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = http.Get(a.url + "/v1/live?ticket=" + tk)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("second use of a ticket = %d, want 401", resp.StatusCode)
	}

	// Resume after the first event: the second reading is replayed.
	alice.postReading(t, da.ID, 22.75)
	resumed := alice.openSSE(t, got.ID)
	if e, _ := resumed.next(t, "reading.stored", "resync"); e.Type != "reading.stored" || e.Data.TemperatureCelsius != 22.75 {
		t.Fatalf("resumed stream starts with %+v, want the missed reading 22.75", e)
	}
	if e, _ := alice.openSSE(t, "1-0").next(t, "reading.stored", "resync"); e.Type != "resync" {
		t.Fatalf("stream resumed from outside the window starts with %+v, want resync", e)
	}
}

// TestLive_SingleSessionAcrossInstances: a user's newer session on B
// replaces the older one on A, unless the tenant turned the policy off.
func TestLive_SingleSessionAcrossInstances(t *testing.T) {
	t.Parallel()
	a, b := setupTwo(t)
	alice := a.newTenant(t)
	d := alice.createDevice(t, "LIVE-S")

	older := alice.openSSE(t, "")
	newer := alice.on(b).openSSE(t, "")
	if e, ok := older.next(t, "session_replaced"); !ok {
		t.Fatalf("older session got no session_replaced (%+v)", e)
	}
	if _, ok := older.next(t, "reading.stored"); ok {
		t.Fatal("older session still open after session_replaced")
	}
	other := alice.as("someone-else").openSSE(t, "") // another user is no rival
	alice.postReading(t, d.ID, 20)
	for _, s := range []*sseStream{newer, other} {
		if e, ok := s.next(t, "reading.stored", "session_replaced"); !ok || e.Type != "reading.stored" {
			t.Fatalf("live session got %+v (ok %v), want the reading", e, ok)
		}
	}

	alice.call(t, http.MethodPut, "/v1/live/settings", map[string]any{"singleSession": false}, http.StatusOK, nil)
	first := alice.openSSE(t, "")
	second := alice.on(b).openSSE(t, "")
	alice.postReading(t, d.ID, 25)
	for _, s := range []*sseStream{first, second} {
		if e, ok := s.next(t, "reading.stored", "session_replaced"); !ok || e.Type != "reading.stored" || e.Data.TemperatureCelsius != 25 {
			t.Fatalf("with the policy off a session got %+v (ok %v), want the reading", e, ok)
		}
	}
}

// TestLive_WebSocket: /v1/ws carries the same events.
func TestLive_WebSocket(t *testing.T) {
	t.Parallel()
	a, b := setupTwo(t)
	alice := a.newTenant(t)
	d := alice.createDevice(t, "LIVE-W")
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, strings.Replace(b.url, "http", "ws", 1)+"/v1/ws?ticket="+alice.ticket(t), nil)
	if err != nil {
		t.Fatalf("dial /v1/ws: %v", err)
	}
	defer conn.CloseNow()
	alice.postReading(t, d.ID, 19.5)
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		var e liveEvent
		if err := json.Unmarshal(data, &e); err != nil {
			t.Fatalf("decode %s: %v", data, err)
		}
		if e.Type == "reading.stored" {
			if e.Data.DeviceID != d.ID || e.Data.TemperatureCelsius != 19.5 {
				t.Fatalf("got %s", data)
			}
			return
		}
	}
}

// TestLive_AlertEvents: alerts fired (in the ingest transaction) and
// acknowledged are published after commit.
func TestLive_AlertEvents(t *testing.T) {
	t.Parallel()
	a, b := setupTwo(t)
	alice := a.newTenant(t)
	d := alice.createDevice(t, "LIVE-AL")
	alice.call(t, http.MethodPost, path("/v1/devices/%d/alert-rules", d.ID),
		map[string]any{"condition": "above", "thresholdCelsius": 30}, http.StatusCreated, nil)
	s := alice.on(b).openSSE(t, "")
	alice.postReading(t, d.ID, 35)
	fired, ok := s.next(t, "alert.fired")
	if !ok || fired.Data.DeviceID != d.ID || fired.Data.TemperatureCelsius != 35 {
		t.Fatalf("alert.fired = %+v (ok %v)", fired, ok)
	}
	var page struct{ Data []struct{ ID, Version int64 } }
	alice.call(t, http.MethodGet, "/v1/alerts?state=firing", nil, http.StatusOK, &page)
	if len(page.Data) != 1 {
		t.Fatalf("open alerts: %+v", page)
	}
	if status, body, _ := alice.acknowledge(t, page.Data[0].ID, etagOf(page.Data[0].Version)); status != http.StatusOK {
		t.Fatalf("acknowledge = %d: %s", status, body)
	}
	if e, ok := s.next(t, "alert.acknowledged"); !ok || e.Data.DeviceID != d.ID {
		t.Fatalf("alert.acknowledged = %+v (ok %v)", e, ok)
	}
}

func etagOf(v int64) string { return `"` + strconv.FormatInt(v, 10) + `"` }

// TestLive_ShutdownClosesStreams: Serve's graceful shutdown ends open
// streams instead of waiting for clients that never leave.
func TestLive_ShutdownClosesStreams(t *testing.T) {
	t.Parallel()
	b := setup(t, withLive(t))
	opts := b.opts
	withLive(t)(b, &opts)
	opts.Registry, opts.ShutdownTimeout = nil, eventTimeout
	srv := httpapi.NewServer(opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()

	c := b.newTenant(t)
	c.call(t, http.MethodGet, "/v1/tenant", nil, http.StatusOK, nil) // provision on the first instance
	inst := *b
	inst.url = "http://" + ln.Addr().String()
	s := c.on(&inst).openSSE(t, "")
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve = %v, want a clean drain", err)
		}
	case <-time.After(2 * eventTimeout):
		t.Fatal("Serve did not return")
	}
	if _, ok := s.next(t, "never"); ok {
		t.Fatal("stream still open after shutdown")
	}
}

// TestLive_RedisDownKeepsIngesting: without Redis the live stream is
// unavailable, but readings are still stored.
func TestLive_RedisDownKeepsIngesting(t *testing.T) {
	t.Parallel()
	b := setup(t, func(b *bundle, o *httpapi.ServerOpts) {
		rc, err := redis.Open(context.Background(), "redis://127.0.0.1:1/0")
		if err != nil {
			t.Fatal(err)
		}
		live := redis.NewLive(rc, nil)
		t.Cleanup(rc.Close)
		t.Cleanup(live.Close)
		o.Live = live
	})
	c := b.newTenant(t)
	d := c.createDevice(t, "LIVE-DOWN")
	c.postReading(t, d.ID, 20)
	c.fail(t, http.MethodPost, "/v1/live/ticket", nil, http.StatusServiceUnavailable)
}
