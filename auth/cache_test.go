package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/thermo/thermo"
	"github.com/thermo/thermo/auth"
	"github.com/thermo/thermo/auth/authtest"
	"github.com/thermo/thermo/mock"
)

func TestCache(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t)
	calls := 0
	inner := &mock.TokenVerifier{VerifyTokenFn: func(_ context.Context, raw string) (thermo.Principal, error) {
		calls++
		if raw == "bad" {
			return thermo.Principal{}, thermo.Errorf(thermo.EUNAUTHORIZED, "bad token")
		}
		return thermo.Principal{Subject: "alice", TenantID: "acme"}, nil
	}}
	ctx := context.Background()

	t.Run("AcceptedTokenVerifiedOnce", func(t *testing.T) {
		calls = 0
		c := auth.NewCache(inner, 10, time.Minute)
		tok := iss.Token("acme", "alice")
		for range 3 {
			p, err := c.VerifyToken(ctx, tok)
			if err != nil || p.Subject != "alice" {
				t.Fatalf("p = %+v, err = %v", p, err)
			}
		}
		if calls != 1 {
			t.Fatalf("inner verifier called %d times, want 1", calls)
		}
	})

	t.Run("RejectionsNotCached", func(t *testing.T) {
		calls = 0
		c := auth.NewCache(inner, 10, time.Minute)
		for range 2 {
			if _, err := c.VerifyToken(ctx, "bad"); thermo.ErrorCode(err) != thermo.EUNAUTHORIZED {
				t.Fatalf("err = %v", err)
			}
		}
		if calls != 2 {
			t.Fatalf("calls = %d, want 2", calls)
		}
	})

	t.Run("ExpiredTokenVerifiedAgain", func(t *testing.T) {
		calls = 0
		c := auth.NewCache(inner, 10, time.Hour)
		claims := iss.Claims("acme", "alice")
		claims["exp"] = time.Now().Add(-time.Second).Unix() // the inner fake accepts it; the cache must not keep it
		tok := iss.Mint(claims)
		_, _ = c.VerifyToken(ctx, tok)
		_, _ = c.VerifyToken(ctx, tok)
		if calls != 2 {
			t.Fatalf("calls = %d, want 2: an expired token must not be served from cache", calls)
		}
	})

	t.Run("BoundedSize", func(t *testing.T) {
		calls = 0
		c := auth.NewCache(inner, 2, time.Hour)
		a, b, d := iss.Token("acme", "a"), iss.Token("acme", "b"), iss.Token("acme", "d")
		for _, tok := range []string{a, b, d, a} {
			_, _ = c.VerifyToken(ctx, tok)
		}
		if calls != 4 {
			t.Fatalf("calls = %d, want 4 (a was evicted to make room)", calls)
		}
	})
}
