// Package e2e_test drives the real HTTP server, with the real PostgreSQL
// services and real OIDC tokens from a loopback issuer, end to end.
package e2e_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/thermo/thermo"
	"github.com/thermo/thermo/auth"
	"github.com/thermo/thermo/auth/authtest"
	"github.com/thermo/thermo/httpapi"
	"github.com/thermo/thermo/internal/logbuf"
	"github.com/thermo/thermo/postgres"
)

func testDatabaseURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// bundle is a served Thermo: the real httpapi.Server over the postgres
// services, trusting a test OIDC issuer.
type bundle struct {
	url    string
	db     *postgres.DB
	issuer *authtest.Issuer
	logs   *syncBuffer
	stats  thermo.StatsService
	opts   httpapi.ServerOpts // of the first instance; serve starts more
}

// setup serves one instance; each configure func adjusts its options (and
// those of instances started later by serve).
func setup(t *testing.T, configure ...func(*bundle, *httpapi.ServerOpts)) *bundle {
	t.Helper()
	ctx := context.Background()
	logs := &syncBuffer{}
	logger := slog.New(thermo.NewLogHandler(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})))
	db, err := postgres.Open(ctx, postgres.Opts{URL: testDatabaseURL(), Logger: logger})
	if err != nil {
		t.Fatalf("open database: %v", err)
	}
	t.Cleanup(db.Close)
	if err := db.MigrateControl(ctx); err != nil {
		t.Fatalf("migrate control plane: %v", err)
	}
	issuer := authtest.NewIssuer(t)
	verifier, err := auth.NewOIDC(ctx, auth.OIDCOpts{IssuerURL: issuer.URL(), Audience: authtest.Audience, Logger: logger})
	if err != nil {
		t.Fatalf("OIDC verifier: %v", err)
	}
	readings, alerts := postgres.NewReadingService(db), postgres.NewAlertService(db)
	readings.AfterIngest = append(readings.AfterIngest, alerts.EvaluateReadings)
	pgStats, stats := newStats(t, db, logger)
	readings.AfterIngest = append(readings.AfterIngest, pgStats.MarkLateReadings)
	b := &bundle{db: db, issuer: issuer, logs: logs, stats: stats, opts: httpapi.ServerOpts{
		Logger:   logger,
		Verifier: verifier,
		Tenants:  postgres.NewTenantService(db),
		Users:    postgres.NewUserService(db),
		Devices:  postgres.NewDeviceService(db),
		Readings: readings,
		Alerts:   alerts,
		Webhooks: alerts,
		Stats:    stats,
		Version:  "e2e",
	}}
	b.url = b.serve(t, configure...)
	return b
}

// serve starts an instance of the server over the bundle's database and
// returns its URL: two calls are two instances behind one load balancer.
func (b *bundle) serve(t *testing.T, configure ...func(*bundle, *httpapi.ServerOpts)) string {
	t.Helper()
	opts := b.opts
	opts.Registry = prometheus.NewRegistry()
	for _, f := range configure {
		f(b, &opts)
	}
	srv := httpapi.NewServer(opts)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	t.Cleanup(srv.CloseStreams) // runs first: ts.Close waits for open streams
	return ts.URL
}

// client calls the API as one user of one tenant.
type client struct {
	b      *bundle
	tenant string
	token  string
}

// newTenant returns a client for a fresh tenant (provisioned by its first
// request) whose schema and row are dropped after the test.
func (b *bundle) newTenant(t *testing.T) *client {
	t.Helper()
	id := uniqueID("e2e")
	t.Cleanup(func() { dropTenant(t, id) })
	return &client{b: b, tenant: id, token: b.issuer.Token(id, "sub-"+id)}
}

// as returns a client of the same tenant authenticated as subject sub.
func (c *client) as(sub string) *client {
	return &client{b: c.b, tenant: c.tenant, token: c.b.issuer.Token(c.tenant, sub)}
}

func uniqueID(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + "_" + hex.EncodeToString(b)
}

func dropTenant(t *testing.T, id string) {
	ctx := context.Background()
	c, err := pgx.Connect(ctx, testDatabaseURL())
	if err != nil {
		t.Errorf("cleanup connect: %v", err)
		return
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{postgres.SchemaName(id)}.Sanitize()+" CASCADE"); err != nil {
		t.Errorf("cleanup drop schema: %v", err)
	}
	if _, err := c.Exec(ctx, "DELETE FROM public.tenants WHERE id = $1", id); err != nil {
		t.Errorf("cleanup delete tenant: %v", err)
	}
}

// request sends body (a string is sent as is, anything else as JSON).
func (c *client) request(t testing.TB, method, path string, body any) *http.Response {
	t.Helper()
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(v)
	case []byte:
		rd = bytes.NewReader(v)
	default:
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, c.b.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp
}

// do sends a request and returns the status and the body.
func (c *client) do(t testing.TB, method, path string, body any) (int, []byte) {
	t.Helper()
	resp := c.request(t, method, path, body)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, data
}

// call sends a request, checks the status and decodes the body into out
// (unless out is nil).
func (c *client) call(t testing.TB, method, path string, body any, want int, out any) {
	t.Helper()
	status, data := c.do(t, method, path, body)
	if status != want {
		t.Fatalf("%s %s = %d, want %d: %s", method, path, status, want, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, data, err)
		}
	}
}

// problem is the error body.
type problem struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
	Detail string `json:"detail"`
	Errors []struct {
		Field, Reason, Location string
	} `json:"errors"`
}

// fail sends a request that must fail with status and returns the problem.
func (c *client) fail(t testing.TB, method, path string, body any, status int) problem {
	t.Helper()
	var p problem
	c.call(t, method, path, body, status, &p)
	if p.Status != status || p.Code == "" {
		t.Fatalf("%s %s: problem %+v, want status %d with a code", method, path, p, status)
	}
	return p
}

func (p problem) fields() []string {
	out := make([]string, len(p.Errors))
	for i, e := range p.Errors {
		out[i] = e.Field
	}
	return out
}

// Domain types as the API returns them.
type (
	user struct {
		ID                int64      `json:"id"`
		KeycloakSubjectID string     `json:"keycloakSubjectId"`
		Email             string     `json:"email"`
		Name              string     `json:"name"`
		DeletedAt         *time.Time `json:"deletedAt"`
	}
	device struct {
		ID           int64  `json:"id"`
		SerialNumber string `json:"serialNumber"`
		Name         string `json:"name"`
		Location     string `json:"location"`
		OwnerID      *int64 `json:"ownerId"`
		IsActive     bool   `json:"isActive"`
	}
	reading struct {
		ID                 int64     `json:"id"`
		DeviceID           int64     `json:"deviceId"`
		TemperatureCelsius float64   `json:"temperatureCelsius"`
		Humidity           *float64  `json:"humidity"`
		BatteryLevel       *float64  `json:"batteryLevel"`
		RecordedAt         time.Time `json:"recordedAt"`
		Duplicate          bool      `json:"duplicate"`
	}
	readingPage struct {
		Data        []reading `json:"data"`
		NextCursor  *string   `json:"nextCursor"`
		HasNextPage bool      `json:"hasNextPage"`
		Count       int       `json:"count"`
	}
	ingestResult struct {
		Received, Inserted, Duplicates int
	}
)

// createDevice registers a device and returns it.
func (c *client) createDevice(t testing.TB, serial string) device {
	t.Helper()
	var d device
	c.call(t, http.MethodPost, "/v1/devices", map[string]any{"serialNumber": serial}, http.StatusCreated, &d)
	return d
}

// newReading is a posted reading.
type newReading struct {
	TemperatureCelsius float64   `json:"temperatureCelsius"`
	Humidity           *float64  `json:"humidity,omitempty"`
	BatteryLevel       *float64  `json:"batteryLevel,omitempty"`
	RecordedAt         time.Time `json:"recordedAt"`
}

// series returns n readings one step apart, newest first, starting at newest.
func series(n int, newest time.Time, step time.Duration) []newReading {
	out := make([]newReading, n)
	for i := range out {
		out[i] = newReading{TemperatureCelsius: 20 + float64(i%50)/10, RecordedAt: newest.Add(-time.Duration(i) * step)}
	}
	return out
}

// postBatch ingests readings for device and returns the result.
func (c *client) postBatch(t testing.TB, deviceID int64, rs []newReading) ingestResult {
	t.Helper()
	var res ingestResult
	c.call(t, http.MethodPost, path("/v1/devices/%d/readings/batch", deviceID), map[string]any{"readings": rs}, http.StatusOK, &res)
	return res
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// path formats a request path.
func path(format string, args ...any) string { return fmt.Sprintf(format, args...) }

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer = logbuf.Buffer
