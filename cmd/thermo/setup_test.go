package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/thermo/thermo/postgres"
)

// TestMain brings the shared test database's control plane up to date once,
// so parallel tests do not race to create it. With THERMO_TEST_RUN_MAIN=1
// the test binary is thermo itself (see TestSIGTERM).
func TestMain(m *testing.M) {
	if os.Getenv("THERMO_TEST_RUN_MAIN") == "1" {
		main()
		return
	}
	ctx := context.Background()
	db, err := postgres.Open(ctx, postgres.Opts{URL: testDatabaseURL()})
	if err != nil {
		fmt.Fprintf(os.Stderr, "cmd/thermo tests need PostgreSQL (TEST_DATABASE_URL): %v\n", err)
		os.Exit(1)
	}
	err = db.MigrateControl(ctx)
	db.Close()
	if err != nil {
		fmt.Fprintf(os.Stderr, "migrate control plane: %v\n", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// testDatabaseURL is the PostgreSQL the tests use; `make test` sets it.
func testDatabaseURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// testRedisURL is the Redis the tests use.
func testRedisURL() string {
	if u := os.Getenv("REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// env is the environment a test gives run; nothing is read from the
// process environment.
type env map[string]string

func (e env) getenv(k string) string { return e[k] }

// testEnv returns an environment pointing at the test PostgreSQL and Redis,
// with a dev signing key in a fresh directory.
func testEnv(t *testing.T) env {
	t.Helper()
	return env{
		envDatabaseURL: testDatabaseURL(),
		envRedisURL:    testRedisURL(),
		envDevKey:      filepath.Join(t.TempDir(), "dev-key.pem"),
	}
}

// with returns a copy of e with kv (key, value, key, value ...) set.
func (e env) with(kv ...string) env {
	out := env{}
	for k, v := range e {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// result is the outcome of one run.
type result struct {
	code           int
	stdout, stderr string
}

// runThermo runs the CLI in-process.
func runThermo(t *testing.T, e env, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, &stdout, &stderr, e.getenv)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// wantOneLineError checks r failed with code and exactly one stderr line
// containing each of contains.
func wantOneLineError(t *testing.T, r result, code int, contains ...string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit code = %d, want %d (stderr %q)", r.code, code, r.stderr)
	}
	if n := strings.Count(r.stderr, "\n"); n != 1 || !strings.HasSuffix(r.stderr, "\n") {
		t.Errorf("stderr has %d lines, want exactly one: %q", n, r.stderr)
	}
	for _, s := range contains {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("stderr %q does not contain %q", r.stderr, s)
		}
	}
	if strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr, "panic") {
		t.Errorf("stderr looks like a stack trace: %q", r.stderr)
	}
}

func uniqueID(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + "_" + hex.EncodeToString(b)
}

// newTenantID returns a unique tenant id whose schema and row are dropped
// when the test ends, whoever created them.
func newTenantID(t *testing.T, dbURL string) string {
	t.Helper()
	id := uniqueID("c")
	t.Cleanup(func() { dropTenant(t, dbURL, id) })
	return id
}

// dropTenant removes a tenant's schema and control-plane row.
func dropTenant(t testing.TB, dbURL, id string) {
	t.Helper()
	c := connect(t, dbURL)
	ctx := context.Background()
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{postgres.SchemaName(id)}.Sanitize()+" CASCADE"); err != nil {
		t.Errorf("cleanup drop schema: %v", err)
	}
	if _, err := c.Exec(ctx, "DELETE FROM public.tenants WHERE id = $1", id); err != nil {
		t.Errorf("cleanup delete tenant: %v", err)
	}
}

func connect(t testing.TB, dbURL string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	return c
}

// tenantState reports whether tenant id has a control-plane row and a schema.
func tenantState(t *testing.T, dbURL, id string) (row, schema bool) {
	t.Helper()
	c := connect(t, dbURL)
	ctx := context.Background()
	defer c.Close(ctx)
	err := c.QueryRow(ctx, `SELECT
		EXISTS (SELECT 1 FROM public.tenants WHERE id = $1),
		EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $2)`,
		id, postgres.SchemaName(id)).Scan(&row, &schema)
	if err != nil {
		t.Fatalf("tenant state: %v", err)
	}
	return row, schema
}

// createDatabase makes a fresh database, dropped after the test, for tests
// that need the whole control plane to themselves; it returns its URL.
func createDatabase(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	name := uniqueID("thermo_cmd")
	c := connect(t, testDatabaseURL())
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		c := connect(t, testDatabaseURL())
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database: %v", err)
		}
	})
	u, err := url.Parse(testDatabaseURL())
	if err != nil {
		t.Fatalf("parse url: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// logWriter collects a server's JSON log and reports the bound address from
// its "thermo serving" line.
type logWriter struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	scanned int // bytes of buf already scanned for whole lines
	addr    chan string
}

func newLogWriter() *logWriter { return &logWriter{addr: make(chan string, 1)} }

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, _ := w.buf.Write(p)
	for {
		rest := w.buf.Bytes()[w.scanned:]
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			return n, nil
		}
		w.scanned += i + 1
		var rec struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal(rest[:i], &rec) == nil && rec.Msg == "thermo serving" {
			select {
			case w.addr <- rec.Addr:
			default:
			}
		}
	}
}

func (w *logWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
