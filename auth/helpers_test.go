package auth_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/thermo/thermo"
	"github.com/thermo/thermo/auth"
	"github.com/thermo/thermo/auth/authtest"
)

// testBundle is a test OIDC provider and a verifier trusting it.
type testBundle struct {
	iss   *authtest.Issuer
	oidc  *auth.OIDC
	clock *clock
}

// setup starts a provider and an OIDC verifier for it; edit changes the
// verifier's options before it is built.
func setup(t *testing.T, edit ...func(*auth.OIDCOpts)) *testBundle {
	t.Helper()
	b := &testBundle{iss: authtest.NewIssuer(t), clock: &clock{now: time.Now()}}
	opts := auth.OIDCOpts{
		IssuerURL: b.iss.URL(),
		Audience:  authtest.Audience,
		Logger:    slog.New(slog.DiscardHandler),
		Now:       b.clock.Now,
	}
	for _, e := range edit {
		e(&opts)
	}
	v, err := auth.NewOIDC(context.Background(), opts)
	if err != nil {
		t.Fatalf("NewOIDC: %v", err)
	}
	b.oidc = v
	return b
}

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// wantUnauthorized fails unless err is an EUNAUTHORIZED *thermo.Error with
// message msg that does not contain the token raw.
func wantUnauthorized(t *testing.T, err error, raw, msg string) {
	t.Helper()
	var e *thermo.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want *thermo.Error %q", err, msg)
	}
	if e.Code != thermo.EUNAUTHORIZED || e.Message != msg {
		t.Fatalf("err = (%s) %q, want (%s) %q", e.Code, e.Message, thermo.EUNAUTHORIZED, msg)
	}
	if raw != "" && strings.Contains(err.Error(), raw) {
		t.Fatalf("error message echoes the token")
	}
}

// wantPrincipal fails unless err is nil and got equals want.
func wantPrincipal(t *testing.T, got thermo.Principal, err error, want thermo.Principal) {
	t.Helper()
	if err != nil {
		t.Fatalf("VerifyToken: %v", err)
	}
	if got != want {
		t.Fatalf("principal = %+v, want %+v", got, want)
	}
}
