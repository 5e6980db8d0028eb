package httpapi_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/thermo/thermo"
)

func TestServe_GracefulShutdown(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- b.srv.Serve(ctx, ln) }()

	type result struct {
		status int
		body   string
		err    error
	}
	results := make(chan result, 1)
	client := &http.Client{Transport: &http.Transport{}}
	go func() {
		resp, err := client.Get("http://" + addr + "/test/sleep")
		if err != nil {
			results <- result{err: err}
			return
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		results <- result{status: resp.StatusCode, body: string(data), err: err}
	}()

	select {
	case <-b.sleepStarted:
	case <-time.After(5 * time.Second):
		t.Fatal("slow handler never started")
	}
	cancel() // mid-request

	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve = %v, want nil after a clean drain", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	if !b.sleepDone.Load() {
		t.Error("Serve returned before the in-flight request finished")
	}
	r := <-results
	if r.err != nil || r.status != http.StatusOK || !strings.Contains(r.body, `"ok":true`) {
		t.Fatalf("in-flight request = %d %q %v, want 200 ok", r.status, r.body, r.err)
	}
	if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		conn.Close()
		t.Fatal("new connection accepted after shutdown")
	}
}

func TestServe_ShutdownTimeout(t *testing.T) {
	t.Parallel()
	b := setup(t, func(b *testBundle) { b.opts.ShutdownTimeout = 50 * time.Millisecond })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- b.srv.Serve(ctx, ln) }()
	client := &http.Client{Transport: &http.Transport{}}
	go func() {
		if resp, err := client.Get("http://" + ln.Addr().String() + "/test/sleep"); err == nil {
			resp.Body.Close()
		}
	}()
	<-b.sleepStarted
	cancel()
	if err := <-served; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Serve = %v, want context.DeadlineExceeded when the drain times out", err)
	}
}

func TestRoute_Unmatched(t *testing.T) {
	t.Parallel()
	b := setup(t)

	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()
		resp, body := b.do(t, http.MethodGet, "/no/such/path", "")
		p := decodeProblem(t, resp, body, http.StatusNotFound)
		if p.Code != thermo.ENOTFOUND {
			t.Errorf("code = %q, want %q", p.Code, thermo.ENOTFOUND)
		}
	})
	t.Run("MethodNotAllowed", func(t *testing.T) {
		t.Parallel()
		resp, body := b.do(t, http.MethodDelete, "/v1/tenant", "", authed()...)
		p := decodeProblem(t, resp, body, http.StatusMethodNotAllowed)
		if p.Code != "method_not_allowed" {
			t.Errorf("code = %q, want method_not_allowed", p.Code)
		}
		if allow := resp.Header.Get("Allow"); !strings.Contains(allow, http.MethodGet) {
			t.Errorf("Allow = %q, want it to list GET", allow)
		}
	})
}
