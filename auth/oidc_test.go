package auth_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/thermo/thermo"
	"github.com/thermo/thermo/auth"
	"github.com/thermo/thermo/auth/authtest"
)

func TestOIDC_VerifyToken_Accepts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	want := thermo.Principal{Subject: "alice", TenantID: "acme", Issuer: b.iss.URL()}

	tests := []struct {
		name  string
		edit  func(c map[string]any)
		opts  []authtest.MintOption
		clock time.Duration // how far the verifier's clock runs ahead
	}{
		{name: "RS256"},
		{name: "ES256", opts: []authtest.MintOption{authtest.ES256()}},
		{name: "AudienceArray", edit: func(c map[string]any) { c["aud"] = []string{"account", authtest.Audience} }},
		{name: "AccountAudienceWithAzp", edit: func(c map[string]any) { c["aud"], c["azp"] = "account", authtest.Audience }},
		{name: "ExpiredWithinLeeway", clock: time.Hour + 10*time.Second},
		{name: "NotBeforeWithinLeeway", edit: func(c map[string]any) { c["nbf"] = time.Now().Add(10 * time.Second).Unix() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := b.iss.Claims("acme", "alice")
			if tt.edit != nil {
				tt.edit(c)
			}
			raw := b.iss.Mint(c, tt.opts...)
			v := b.oidc
			if tt.clock != 0 {
				v = setupAt(t, b.iss, time.Now().Add(tt.clock))
			}
			p, err := v.VerifyToken(ctx, raw)
			wantPrincipal(t, p, err, want)
		})
	}
}

// setupAt returns a verifier for iss whose clock reads now.
func setupAt(t *testing.T, iss *authtest.Issuer, now time.Time) *auth.OIDC {
	t.Helper()
	v, err := auth.NewOIDC(context.Background(), auth.OIDCOpts{
		IssuerURL: iss.URL(), Audience: authtest.Audience,
		Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatalf("NewOIDC: %v", err)
	}
	return v
}

func TestOIDC_VerifyToken_Rejects(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	claims := func(edit func(c map[string]any)) map[string]any {
		c := b.iss.Claims("acme", "alice")
		edit(c)
		return c
	}
	tampered := func() string {
		parts := strings.Split(b.iss.Token("acme", "alice"), ".")
		other := strings.Split(b.iss.Token("globex", "alice"), ".")
		return parts[0] + "." + other[1] + "." + parts[2]
	}

	tests := []struct {
		name string
		raw  string
		want string
	}{
		{"NoToken", "", "missing bearer token"},
		{"NotJWS", "not-a-token", "malformed token"},
		{"BadBase64", "!!!.e30.AAAA", "malformed token"},
		{"TooLarge", strings.Repeat("a", 17<<10), "token too large"},
		{"BadSignature", b.iss.Mint(b.iss.Claims("acme", "alice"), authtest.UnpublishedKey(), authtest.KeyID(b.iss.RSAKeyID())), "invalid token signature"},
		{"TamperedPayload", tampered(), "invalid token signature"},
		{"AlgNone", b.iss.Mint(b.iss.Claims("acme", "alice"), authtest.AlgNone()), "token signing algorithm must be RS256 or ES256"},
		{"HS256WithRSAPublicKey", b.iss.Mint(b.iss.Claims("acme", "alice"), authtest.HS256WithPublicKey()), "token signing algorithm must be RS256 or ES256"},
		{"ES256WithRSAKeyID", b.iss.Mint(b.iss.Claims("acme", "alice"), authtest.ES256(), authtest.KeyID(b.iss.RSAKeyID())), "signing key does not match token algorithm"},
		{"UnknownKeyID", b.iss.Mint(b.iss.Claims("acme", "alice"), authtest.UnpublishedKey()), "unknown signing key"},
		{"NoKeyIDWithSeveralKeys", b.iss.Mint(b.iss.Claims("acme", "alice"), authtest.KeyID("")), "token has no key id"},
		{"Expired", b.iss.Mint(claims(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() })), "token expired"},
		{"NoExpiry", b.iss.Mint(claims(func(c map[string]any) { delete(c, "exp") })), "token has no expiry"},
		{"ExpiryNotNumber", b.iss.Mint(claims(func(c map[string]any) { c["exp"] = "tomorrow" })), "malformed token claims"},
		{"NotYetValid", b.iss.Mint(claims(func(c map[string]any) { c["nbf"] = time.Now().Add(time.Hour).Unix() })), "token not valid yet"},
		{"IssuedInFuture", b.iss.Mint(claims(func(c map[string]any) { c["iat"] = time.Now().Add(time.Hour).Unix() })), "token issued in the future"},
		{"WrongIssuer", b.iss.Mint(claims(func(c map[string]any) { c["iss"] = "https://evil.example/realms/test" })), "token issuer does not match"},
		{"WrongAudience", b.iss.Mint(claims(func(c map[string]any) { c["aud"] = "other-api" })), "token audience does not include thermo-api"},
		{"AccountAudienceWrongAzp", b.iss.Mint(claims(func(c map[string]any) { c["aud"], c["azp"] = "account", "other-app" })), "token audience does not include thermo-api"},
		{"NoAudience", b.iss.Mint(claims(func(c map[string]any) { delete(c, "aud") })), "token audience does not include thermo-api"},
		{"NoSubject", b.iss.Mint(claims(func(c map[string]any) { delete(c, "sub") })), "token has no subject"},
		{"NoTenant", b.iss.Mint(claims(func(c map[string]any) { delete(c, "tenantId") })), "token has no tenantId claim"},
		{"NullTenant", b.iss.Mint(claims(func(c map[string]any) { c["tenantId"] = nil })), "token has no tenantId claim"},
		{"TenantNotString", b.iss.Mint(claims(func(c map[string]any) { c["tenantId"] = 42 })), "token tenantId claim must be a string"},
		{"TenantArray", b.iss.Mint(claims(func(c map[string]any) { c["tenantId"] = []string{"acme"} })), "token tenantId claim must be a string"},
	}
	hostile := []string{
		"", "a'; drop", "acme; DROP SCHEMA public", "\u0430cme", "ac\u217Fe", "Acme", "1acme", "a",
		"acme-corp", "acme\x00", strings.Repeat("a", 64), strings.Repeat("a", 41),
		"public", "pg_catalog", "pg_toast", "information_schema", "river",
	}
	for _, h := range hostile {
		raw := b.iss.Mint(claims(func(c map[string]any) { c["tenantId"] = h }))
		tests = append(tests, struct{ name, raw, want string }{
			fmt.Sprintf("HostileTenant%q", h), raw, "token tenantId claim is not a valid tenant id",
		})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := b.oidc.VerifyToken(ctx, tt.raw)
			wantUnauthorized(t, err, tt.raw, tt.want)
			if p != (thermo.Principal{}) {
				t.Fatalf("principal = %+v, want zero", p)
			}
		})
	}
}

func TestOIDC_TenantClaim(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *auth.OIDCOpts) { o.TenantClaim = "org" })
	ctx := context.Background()

	t.Run("ConfiguredClaim", func(t *testing.T) {
		t.Parallel()
		c := b.iss.Claims("acme", "alice")
		delete(c, "tenantId")
		c["org"] = "globex"
		p, err := b.oidc.VerifyToken(ctx, b.iss.Mint(c))
		wantPrincipal(t, p, err, thermo.Principal{Subject: "alice", TenantID: "globex", Issuer: b.iss.URL()})
	})
	t.Run("DefaultClaimIgnored", func(t *testing.T) {
		t.Parallel()
		raw := b.iss.Token("acme", "alice")
		_, err := b.oidc.VerifyToken(ctx, raw)
		wantUnauthorized(t, err, raw, "token has no org claim")
	})
}

func TestOIDC_Rotation(t *testing.T) {
	t.Parallel()

	t.Run("NewKeyAcceptedWithoutRestart", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(o *auth.OIDCOpts) { o.RefetchInterval = time.Millisecond })
		old := b.iss.Token("acme", "alice")
		kid := b.iss.Rotate()
		if kid == "" {
			t.Fatal("Rotate returned no kid")
		}
		for _, raw := range []string{b.iss.Token("acme", "alice"), old} {
			p, err := b.oidc.VerifyToken(context.Background(), raw)
			wantPrincipal(t, p, err, thermo.Principal{Subject: "alice", TenantID: "acme", Issuer: b.iss.URL()})
		}
		if got := b.iss.JWKSFetches(); got != 2 {
			t.Fatalf("JWKS fetches = %d, want 2 (start, rotation)", got)
		}
	})

	t.Run("ConcurrentCallersShareOneFetch", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(o *auth.OIDCOpts) { o.RefetchInterval = time.Hour })
		b.iss.Rotate()
		raw := b.iss.Token("acme", "alice")
		errs := verifyConcurrently(b.oidc, raw, 32)
		for err := range errs {
			if err != nil {
				t.Fatalf("VerifyToken: %v", err)
			}
		}
		if got := b.iss.JWKSFetches(); got != 2 {
			t.Fatalf("JWKS fetches = %d, want 2 (start, one shared refetch)", got)
		}
	})
}

func TestOIDC_RefetchRateLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *auth.OIDCOpts) { o.RefetchInterval = time.Minute })
	unknown := b.iss.Mint(b.iss.Claims("acme", "alice"), authtest.UnpublishedKey())

	for err := range verifyConcurrently(b.oidc, unknown, 50) {
		wantUnauthorized(t, err, unknown, "unknown signing key")
	}
	if got := b.iss.JWKSFetches(); got != 2 {
		t.Fatalf("after burst: JWKS fetches = %d, want 2 (start, one refetch)", got)
	}

	b.clock.Advance(30 * time.Second)
	_, err := b.oidc.VerifyToken(context.Background(), unknown)
	wantUnauthorized(t, err, unknown, "unknown signing key")
	if got := b.iss.JWKSFetches(); got != 2 {
		t.Fatalf("within interval: JWKS fetches = %d, want 2", got)
	}

	b.clock.Advance(31 * time.Second)
	for err := range verifyConcurrently(b.oidc, unknown, 50) {
		wantUnauthorized(t, err, unknown, "unknown signing key")
	}
	if got := b.iss.JWKSFetches(); got != 3 {
		t.Fatalf("next interval: JWKS fetches = %d, want 3", got)
	}
}

// verifyConcurrently verifies raw from n goroutines at once and returns
// their errors.
func verifyConcurrently(v thermo.TokenVerifier, raw string, n int) chan error {
	errs := make(chan error, n)
	var start, wg sync.WaitGroup
	start.Add(1)
	for range n {
		wg.Go(func() {
			start.Wait()
			_, err := v.VerifyToken(context.Background(), raw)
			errs <- err
		})
	}
	start.Done()
	wg.Wait()
	close(errs)
	return errs
}

func TestNewOIDC_Errors(t *testing.T) {
	t.Parallel()
	iss := authtest.NewIssuer(t)
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	badJWKS := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/certs" {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		self := "http://" + r.Host
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": self, "jwks_uri": self + "/certs"})
	}))
	t.Cleanup(badJWKS.Close)

	tests := []struct {
		name     string
		opts     auth.OIDCOpts
		contains []string
	}{
		{"NoIssuerURL", auth.OIDCOpts{Audience: "thermo-api"}, []string{"set OIDC_ISSUER_URL"}},
		{"NoAudience", auth.OIDCOpts{IssuerURL: iss.URL()}, []string{"OIDC audience is empty"}},
		{"Unreachable", auth.OIDCOpts{IssuerURL: down.URL + "/realms/test", Audience: "thermo-api"},
			[]string{"OIDC discovery at " + down.URL + "/realms/test/.well-known/openid-configuration", "check OIDC_ISSUER_URL"}},
		{"WrongRealm", auth.OIDCOpts{IssuerURL: strings.TrimSuffix(iss.URL(), "test") + "nope", Audience: "thermo-api"},
			[]string{"OIDC discovery at", "404", "check OIDC_ISSUER_URL"}},
		{"IssuerMismatch", auth.OIDCOpts{IssuerURL: iss.URL() + "/", Audience: "thermo-api"},
			[]string{fmt.Sprintf("the provider's issuer is %q", iss.URL()), "set OIDC_ISSUER_URL to the provider's issuer exactly"}},
		{"JWKSUnavailable", auth.OIDCOpts{IssuerURL: badJWKS.URL, Audience: "thermo-api"},
			[]string{"OIDC signing keys at " + badJWKS.URL + "/certs", "500"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.opts.Logger = slog.New(slog.DiscardHandler)
			v, err := auth.NewOIDC(context.Background(), tt.opts)
			if err == nil {
				t.Fatalf("NewOIDC = %v, want error", v)
			}
			for _, s := range tt.contains {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
		})
	}
}
