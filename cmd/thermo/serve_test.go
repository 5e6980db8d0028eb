package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/thermo/thermo/auth/authtest"
)

// server is a `thermo serve` running in-process.
type server struct {
	url  string
	logs *logWriter
	stop func() int // cancels the serve ctx, as SIGTERM does; returns the exit code
}

// startServe runs `thermo serve --addr 127.0.0.1:0 --no-worker args...`
// and waits until it logs the address it is serving on. Workers stay off: a
// periodic fan-out would otherwise touch every tenant of the shared test
// database (jobs are tested in the jobs package).
func startServe(t *testing.T, e env, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := newLogWriter()
	code := make(chan int, 1)
	go func() {
		args := append([]string{"serve", "--addr", "127.0.0.1:0", "--no-worker"}, args...)
		code <- run(ctx, args, io.Discard, logs, e.getenv)
	}()
	stop := sync.OnceValue(func() int {
		cancel()
		select {
		case c := <-code:
			return c
		case <-time.After(30 * time.Second):
			t.Errorf("serve did not stop within 30s after cancel; log:\n%s", logs)
			return -1
		}
	})
	select {
	case addr := <-logs.addr:
		s := &server{url: "http://" + addr, logs: logs, stop: stop}
		t.Cleanup(func() { s.stop() })
		return s
	case c := <-code:
		cancel()
		t.Fatalf("serve exited with %d before serving; log:\n%s", c, logs)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatalf("serve did not start within 30s; log:\n%s", logs)
	}
	return nil
}

// get sends GET path with an optional bearer token and returns the status
// and body.
func (s *server) get(t *testing.T, path, token string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", path, err)
	}
	return resp.StatusCode, body
}

// mintDevToken runs `thermo token` and returns the token it prints.
func mintDevToken(t *testing.T, e env, tenant, sub string) string {
	t.Helper()
	r := runThermo(t, e, "token", "--tenant", tenant, "--sub", sub)
	if r.code != 0 {
		t.Fatalf("token: exit %d, stderr %q", r.code, r.stderr)
	}
	return strings.TrimSpace(r.stdout)
}

func TestServeDev(t *testing.T) {
	t.Parallel()
	e := testEnv(t)
	tenant := newTenantID(t, testDatabaseURL())
	s := startServe(t, e, "--dev")
	if !strings.Contains(s.logs.String(), "DEV MODE") {
		t.Errorf("no dev mode warning in the log:\n%s", s.logs)
	}

	token := mintDevToken(t, e, tenant, "alice")
	status, body := s.get(t, "/v1/tenant", token)
	if status != http.StatusOK {
		t.Fatalf("GET /v1/tenant = %d %s", status, body)
	}
	var got struct{ ID string }
	if err := json.Unmarshal(body, &got); err != nil || got.ID != tenant {
		t.Errorf("GET /v1/tenant body = %s (%v), want tenant %s", body, err, tenant)
	}
	if row, schema := tenantState(t, testDatabaseURL(), tenant); !row || !schema {
		t.Errorf("first request did not provision the tenant: row %v, schema %v", row, schema)
	}
	if status, _ := s.get(t, "/v1/tenant", ""); status != http.StatusUnauthorized {
		t.Errorf("GET /v1/tenant without a token = %d, want 401", status)
	}

	status, body = s.get(t, "/readyz", "")
	if status != http.StatusOK || !bytes.Contains(body, []byte(`"postgres":"ok"`)) || !bytes.Contains(body, []byte(`"redis":"ok"`)) {
		t.Errorf("GET /readyz = %d %s", status, body)
	}
	status, body = s.get(t, "/metrics", "")
	for _, want := range []string{`thermo_db_pool_acquired_conns{pool="primary"}`, `thermo_db_pool_idle_conns{pool="primary"}`,
		`thermo_db_pool_total_conns{pool="primary"}`, "go_goroutines", "process_cpu_seconds_total", "thermo_http_requests_total"} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("GET /metrics (%d) has no %s", status, want)
		}
	}

	if code := s.stop(); code != 0 {
		t.Errorf("serve exit code after cancel = %d, want 0; log:\n%s", code, s.logs)
	}
	if !strings.Contains(s.logs.String(), "thermo stopped") {
		t.Errorf("no shutdown line in the log:\n%s", s.logs)
	}
}

// Without --dev, dev tokens are rejected even though they are well signed;
// the OIDC issuer's tokens are accepted.
func TestServeOIDCRejectsDevToken(t *testing.T) {
	t.Parallel()
	issuer := authtest.NewIssuer(t)
	e := testEnv(t).with(envOIDCIssuer, issuer.URL(), envOIDCAudience, authtest.Audience)
	tenant := newTenantID(t, testDatabaseURL())
	s := startServe(t, e)

	if status, body := s.get(t, "/v1/tenant", mintDevToken(t, e, tenant, "mallory")); status != http.StatusUnauthorized {
		t.Errorf("dev token without --dev: %d %s, want 401", status, body)
	}
	if row, schema := tenantState(t, testDatabaseURL(), tenant); row || schema {
		t.Errorf("a rejected token provisioned its tenant: row %v, schema %v", row, schema)
	}
	status, body := s.get(t, "/v1/tenant", issuer.Token(tenant, "bob"))
	if status != http.StatusOK || !bytes.Contains(body, []byte(`"id":"`+tenant+`"`)) {
		t.Errorf("OIDC token: %d %s, want 200 for tenant %s", status, body, tenant)
	}
	if code := s.stop(); code != 0 {
		t.Errorf("exit code = %d, want 0", code)
	}
}

// Redis being down does not stop the server; readiness reports it without
// failing.
func TestServeRedisDown(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	s := startServe(t, testEnv(t).with(envRedisURL, "redis://"+closed+"/0"), "--dev")

	status, body := s.get(t, "/readyz", "")
	if status != http.StatusOK || !bytes.Contains(body, []byte(`"status":"degraded"`)) ||
		!bytes.Contains(body, []byte(`"redis":"error: `)) {
		t.Errorf("GET /readyz with Redis down = %d %s, want 200 degraded", status, body)
	}
	if !strings.Contains(s.logs.String(), "redis is unreachable") {
		t.Errorf("no start-up warning about Redis:\n%s", s.logs)
	}
}

// With a replica configured, the start line says so and /metrics reports
// both pools.
func TestServeReplica(t *testing.T) {
	t.Parallel()
	s := startServe(t, testEnv(t).with(envReplicaURL, testDatabaseURL()), "--dev")
	if !strings.Contains(s.logs.String(), `"replica":true`) {
		t.Errorf("start line does not report the replica:\n%s", s.logs)
	}
	_, body := s.get(t, "/metrics", "")
	for _, want := range []string{`thermo_db_pool_total_conns{pool="primary"}`, `thermo_db_pool_total_conns{pool="replica"}`} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("GET /metrics has no %s", want)
		}
	}
}

// The OIDC issuer is checked at start-up: an unreachable one is a runtime
// failure reported on one line.
func TestServeOIDCUnreachable(t *testing.T) {
	t.Parallel()
	e := testEnv(t).with(envOIDCIssuer, "http://127.0.0.1:1/realms/none")
	r := runThermo(t, e, "serve", "--addr", "127.0.0.1:0")
	wantOneLineError(t, r, 1, "thermo serve: OIDC discovery", "OIDC_ISSUER_URL")
}

// The real process: SIGTERM drains and exits 0. The test binary re-runs
// itself as thermo (see TestMain).
func TestSIGTERM(t *testing.T) {
	t.Parallel()
	e := testEnv(t)
	cmd := exec.Command(os.Args[0], "serve", "--dev", "--addr", "127.0.0.1:0")
	cmd.Env = []string{"THERMO_TEST_RUN_MAIN=1"}
	for k, v := range e {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	logs := newLogWriter()
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var addr string
	select {
	case addr = <-logs.addr:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("thermo serve did not start; log:\n%s", logs)
	}
	s := &server{url: "http://" + addr}
	if status, _ := s.get(t, "/healthz", ""); status != http.StatusOK {
		t.Errorf("GET /healthz = %d", status)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("thermo serve after SIGTERM: %v; log:\n%s", err, logs)
	}
	if !strings.Contains(logs.String(), "thermo stopped") {
		t.Errorf("no shutdown line in the log:\n%s", logs)
	}
}
