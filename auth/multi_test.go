package auth_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/thermo/thermo"
	"github.com/thermo/thermo/auth"
	"github.com/thermo/thermo/auth/authtest"
)

func TestMulti(t *testing.T) {
	t.Parallel()
	b := setup(t)
	dev, _ := loadDev(t)
	ctx := context.Background()
	devToken, err := dev.Mint("acme", "dev-user", time.Hour)
	if err != nil {
		t.Fatalf("Mint: %v", err)
	}
	withDev := auth.NewMulti(map[string]thermo.TokenVerifier{b.oidc.Issuer(): b.oidc, dev.Issuer(): dev})
	withoutDev := auth.NewMulti(map[string]thermo.TokenVerifier{b.oidc.Issuer(): b.oidc})

	t.Run("RoutesOIDC", func(t *testing.T) {
		t.Parallel()
		for _, m := range []*auth.Multi{withDev, withoutDev} {
			p, err := m.VerifyToken(ctx, b.iss.Token("acme", "alice"))
			wantPrincipal(t, p, err, thermo.Principal{Subject: "alice", TenantID: "acme", Issuer: b.iss.URL()})
		}
	})
	t.Run("RoutesDev", func(t *testing.T) {
		t.Parallel()
		p, err := withDev.VerifyToken(ctx, devToken)
		wantPrincipal(t, p, err, thermo.Principal{Subject: "dev-user", TenantID: "acme", Issuer: auth.DevIssuerName})
	})
	t.Run("DevRejectedWithoutDev", func(t *testing.T) {
		t.Parallel()
		_, err := withoutDev.VerifyToken(ctx, devToken)
		wantUnauthorized(t, err, devToken, "untrusted token issuer")
	})
	t.Run("OtherProvider", func(t *testing.T) {
		t.Parallel()
		raw := authtest.NewIssuer(t).Token("acme", "alice")
		_, err := withDev.VerifyToken(ctx, raw)
		wantUnauthorized(t, err, raw, "untrusted token issuer")
	})
	t.Run("ClaimedIssuerStillVerified", func(t *testing.T) {
		t.Parallel()
		// A forged token naming the provider is routed to the OIDC
		// verifier, which checks the signature.
		raw := b.iss.Mint(b.iss.Claims("acme", "mallory"), authtest.UnpublishedKey(), authtest.KeyID(b.iss.RSAKeyID()))
		_, err := withDev.VerifyToken(ctx, raw)
		wantUnauthorized(t, err, raw, "invalid token signature")
	})

	tests := []struct{ name, raw, want string }{
		{"Empty", "", "missing bearer token"},
		{"OnePart", "abc", "malformed token"},
		{"TwoParts", "abc.def", "malformed token"},
		{"FourParts", "a.b.c.d", "malformed token"},
		{"BadBase64", "e30.!!!.sig", "malformed token"},
		{"HeaderNotJSON", b64("not json") + "." + b64(`{"iss":"x"}`) + ".sig", "malformed token"},
		{"PayloadNotJSON", b64(`{"alg":"RS256"}`) + "." + b64("not json") + ".sig", "malformed token"},
		{"IssuerNotString", b64(`{"alg":"RS256"}`) + "." + b64(`{"iss":42}`) + ".sig", "malformed token"},
		{"NoIssuer", b64(`{"alg":"RS256"}`) + "." + b64(`{"sub":"alice"}`) + ".sig", "token has no issuer"},
		{"TooLarge", strings.Repeat("a", 17<<10), "token too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := withDev.VerifyToken(ctx, tt.raw)
			wantUnauthorized(t, err, tt.raw, tt.want)
		})
	}
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
