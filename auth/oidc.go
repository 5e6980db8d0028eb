package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/thermo/thermo"
)

// DefaultRefetchInterval is the least time between two JWKS refetches
// triggered by tokens naming unknown keys.
const DefaultRefetchInterval = time.Minute

// OIDCOpts configures NewOIDC.
type OIDCOpts struct {
	// IssuerURL is the issuer, exactly as it appears in tokens' iss claim,
	// e.g. https://keycloak.example.com/realms/thermo.
	IssuerURL string
	// Audience must appear in a token's aud claim, or equal its azp claim.
	Audience string
	// TenantClaim names the claim holding the tenant id (DefaultTenantClaim).
	TenantClaim string
	// HTTPClient fetches discovery and JWKS documents (default: 10 s timeout).
	HTTPClient *http.Client
	// Logger reports JWKS refetches (default: slog.Default()).
	Logger *slog.Logger
	// RefetchInterval is the least time between refetches of the JWKS for
	// unknown key ids (DefaultRefetchInterval).
	RefetchInterval time.Duration
	// Leeway tolerates clock skew in exp, nbf and iat (DefaultLeeway).
	Leeway time.Duration
	// Now returns the current time (default time.Now).
	Now func() time.Time
}

// OIDC verifies access tokens of an OpenID Connect provider such as
// Keycloak.
//
// It is built on go-jose rather than go-oidc's IDTokenVerifier because
// Thermo needs what that verifier does not give: an audience check that
// accepts azp (Keycloak's access tokens carry aud "account"), refetches of
// the key set rate-limited per interval, only RS256 and ES256, and a
// specific, client-safe reason for every rejection.
type OIDC struct {
	rules claimRules
	keys  *remoteKeys
}

// NewOIDC discovers the provider at opts.IssuerURL and fetches its signing
// keys. It fails if the provider cannot be reached, if the discovery
// document names another issuer, or if its JWKS cannot be fetched.
func NewOIDC(ctx context.Context, opts OIDCOpts) (*OIDC, error) {
	if opts.IssuerURL == "" {
		return nil, errors.New("OIDC issuer URL is empty; set OIDC_ISSUER_URL")
	} else if opts.Audience == "" {
		return nil, errors.New("OIDC audience is empty; set it to the client id of the API (e.g. thermo-api)")
	}
	opts = opts.withDefaults()

	discoveryURL := strings.TrimSuffix(opts.IssuerURL, "/") + "/.well-known/openid-configuration"
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := getJSON(ctx, opts.HTTPClient, discoveryURL, &doc); err != nil {
		return nil, fmt.Errorf("OIDC discovery at %s: %w; check OIDC_ISSUER_URL", discoveryURL, err)
	}
	if doc.Issuer != opts.IssuerURL {
		return nil, fmt.Errorf("OIDC discovery at %s: the provider's issuer is %q, not %q; set OIDC_ISSUER_URL to the provider's issuer exactly",
			discoveryURL, doc.Issuer, opts.IssuerURL)
	} else if doc.JWKSURI == "" {
		return nil, fmt.Errorf("OIDC discovery at %s: document has no jwks_uri; check OIDC_ISSUER_URL", discoveryURL)
	}
	keys, err := fetchJWKS(ctx, opts.HTTPClient, doc.JWKSURI)
	if err != nil {
		return nil, fmt.Errorf("OIDC signing keys at %s: %w; check that the provider publishes its JWKS", doc.JWKSURI, err)
	}
	if len(keys) == 0 {
		opts.Logger.WarnContext(ctx, "OIDC JWKS has no RSA or EC signing keys; every token will be rejected until it has", "jwks_uri", doc.JWKSURI)
	}
	return &OIDC{
		rules: claimRules{
			issuer:      opts.IssuerURL,
			audience:    opts.Audience,
			tenantClaim: opts.TenantClaim,
			leeway:      opts.Leeway,
			now:         opts.Now,
		},
		keys: &remoteKeys{
			url:      doc.JWKSURI,
			client:   opts.HTTPClient,
			interval: opts.RefetchInterval,
			now:      opts.Now,
			log:      opts.Logger,
			keys:     keys,
		},
	}, nil
}

// withDefaults returns opts with every zero field set to its default.
func (opts OIDCOpts) withDefaults() OIDCOpts {
	if opts.TenantClaim == "" {
		opts.TenantClaim = DefaultTenantClaim
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.RefetchInterval <= 0 {
		opts.RefetchInterval = DefaultRefetchInterval
	}
	if opts.Leeway <= 0 {
		opts.Leeway = DefaultLeeway
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return opts
}

// Issuer returns the issuer whose tokens o accepts.
func (o *OIDC) Issuer() string { return o.rules.issuer }

// VerifyToken verifies raw's RS256 or ES256 signature against the provider's
// keys and checks its expiry, issuer, audience, subject and tenant claim.
func (o *OIDC) VerifyToken(ctx context.Context, raw string) (thermo.Principal, error) {
	return verifyToken(ctx, raw, o.rules, o.keys.key)
}
