// Package authtest provides a Keycloak-like OIDC provider for tests: an
// httptest.Server publishing discovery and JWKS documents, and helpers that
// mint valid and deliberately broken tokens.
package authtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Audience is the audience of tokens from Token.
const Audience = "thermo-api"

// Paths served under the test realm.
const (
	realmPath     = "/realms/test"
	discoveryPath = realmPath + "/.well-known/openid-configuration"
	certsPath     = realmPath + "/protocol/openid-connect/certs"
)

// Issuer is a test OIDC provider. Its methods are safe for concurrent use.
type Issuer struct {
	t       testing.TB
	srv     *httptest.Server
	fetches atomic.Int64

	mu        sync.Mutex
	published []jose.JSONWebKey // public keys in the JWKS
	rsaKey    signingKey        // default RS256 key; Rotate replaces it
	ecKey     signingKey
}

type signingKey struct {
	kid  string
	priv crypto.Signer
}

// NewIssuer starts a provider with one RSA and one EC P-256 key and closes
// it when the test ends.
func NewIssuer(t testing.TB) *Issuer {
	t.Helper()
	i := &Issuer{t: t}
	i.rsaKey = i.addKey(newRSAKey(t))
	i.ecKey = i.addKey(newECKey(t))

	mux := http.NewServeMux()
	mux.HandleFunc("GET "+discoveryPath, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{
			"issuer":                                i.URL(),
			"jwks_uri":                              i.srv.URL + certsPath,
			"id_token_signing_alg_values_supported": []string{"RS256", "ES256"},
		})
	})
	mux.HandleFunc("GET "+certsPath, func(w http.ResponseWriter, r *http.Request) {
		i.fetches.Add(1)
		i.mu.Lock()
		set := jose.JSONWebKeySet{Keys: append([]jose.JSONWebKey(nil), i.published...)}
		i.mu.Unlock()
		writeJSON(w, set)
	})
	i.srv = httptest.NewServer(mux)
	t.Cleanup(i.srv.Close)
	return i
}

// URL returns the issuer URL, as in tokens' iss claim.
func (i *Issuer) URL() string { return i.srv.URL + realmPath }

// JWKSFetches returns how many times the JWKS has been served.
func (i *Issuer) JWKSFetches() int { return int(i.fetches.Load()) }

// RSAKeyID returns the kid of the current default RS256 key.
func (i *Issuer) RSAKeyID() string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.rsaKey.kid
}

// Rotate publishes a new RSA key and makes it the default signing key, as
// Keycloak does when a realm key is added. The old key stays published.
// It returns the new key's kid.
func (i *Issuer) Rotate() string {
	k := i.addKey(newRSAKey(i.t))
	i.mu.Lock()
	defer i.mu.Unlock()
	i.rsaKey = k
	return k.kid
}

// addKey publishes priv's public key under a new kid.
func (i *Issuer) addKey(priv crypto.Signer) signingKey {
	i.mu.Lock()
	defer i.mu.Unlock()
	k := signingKey{kid: fmt.Sprintf("test-key-%d", len(i.published)+1), priv: priv}
	alg := jose.RS256
	if _, ok := priv.(*ecdsa.PrivateKey); ok {
		alg = jose.ES256
	}
	i.published = append(i.published, jose.JSONWebKey{Key: priv.Public(), KeyID: k.kid, Algorithm: string(alg), Use: "sig"})
	return k
}

// Claims returns the claims of a valid token for sub in tenant: iss, aud
// Audience, sub, tenantId, iat now and exp in one hour. Tests edit the map
// to break one claim at a time.
func (i *Issuer) Claims(tenant, sub string) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss":      i.URL(),
		"aud":      Audience,
		"sub":      sub,
		"tenantId": tenant,
		"iat":      now.Unix(),
		"exp":      now.Add(time.Hour).Unix(),
	}
}

// Token returns a valid RS256 token for sub in tenant (see Claims).
func (i *Issuer) Token(tenant, sub string) string {
	return i.Mint(i.Claims(tenant, sub))
}

// MintOption changes how Mint signs a token.
type MintOption func(*mintConfig)

type mintConfig struct {
	alg         jose.SignatureAlgorithm
	kid         *string
	unpublished bool
}

// ES256 signs with the EC P-256 key instead of the RSA key.
func ES256() MintOption { return func(c *mintConfig) { c.alg = jose.ES256 } }

// KeyID sets the token's kid header; "" omits it.
func KeyID(kid string) MintOption { return func(c *mintConfig) { c.kid = &kid } }

// AlgNone produces an unsigned token with alg "none".
func AlgNone() MintOption { return func(c *mintConfig) { c.alg = "none" } }

// HS256WithPublicKey signs with HMAC-SHA256 keyed by the RSA public key's
// PEM bytes: the classic algorithm-confusion attack.
func HS256WithPublicKey() MintOption { return func(c *mintConfig) { c.alg = jose.HS256 } }

// UnpublishedKey signs with a fresh key that is not in the JWKS. Its kid is
// new unless KeyID names a published one (a forged signature).
func UnpublishedKey() MintOption { return func(c *mintConfig) { c.unpublished = true } }

// Mint signs claims (RS256 with the default key unless opts say otherwise)
// and returns the compact token. It fails the test on error.
func (i *Issuer) Mint(claims map[string]any, opts ...MintOption) string {
	i.t.Helper()
	c := mintConfig{alg: jose.RS256}
	for _, o := range opts {
		o(&c)
	}
	i.mu.Lock()
	key := i.rsaKey
	if c.alg == jose.ES256 {
		key = i.ecKey
	}
	i.mu.Unlock()
	if c.unpublished {
		key.kid = "unpublished-key"
		if c.alg == jose.ES256 {
			key.priv = newECKey(i.t)
		} else {
			key.priv = newRSAKey(i.t)
		}
	}
	if c.kid != nil {
		key.kid = *c.kid
	}
	header := map[string]any{"alg": string(c.alg), "typ": "JWT"}
	if key.kid != "" {
		header["kid"] = key.kid
	}
	input := segment(i.t, header) + "." + segment(i.t, claims)
	sig, err := sign(c.alg, key.priv, []byte(input))
	if err != nil {
		i.t.Fatalf("authtest: sign token: %v", err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// sign returns the JWS signature of input with alg.
func sign(alg jose.SignatureAlgorithm, priv crypto.Signer, input []byte) ([]byte, error) {
	digest := sha256.Sum256(input)
	switch alg {
	case "none":
		return nil, nil
	case jose.RS256:
		return rsa.SignPKCS1v15(rand.Reader, priv.(*rsa.PrivateKey), crypto.SHA256, digest[:])
	case jose.ES256:
		r, s, err := ecdsa.Sign(rand.Reader, priv.(*ecdsa.PrivateKey), digest[:])
		if err != nil {
			return nil, err
		}
		sig := make([]byte, 64) // JWS uses fixed-width r||s, not ASN.1
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		return sig, nil
	case jose.HS256:
		der, err := x509.MarshalPKIXPublicKey(priv.Public())
		if err != nil {
			return nil, err
		}
		mac := hmac.New(sha256.New, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
		mac.Write(input)
		return mac.Sum(nil), nil
	}
	return nil, fmt.Errorf("unsupported alg %q", alg)
}

func segment(t testing.TB, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("authtest: encode token segment: %v", err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func newRSAKey(t testing.TB) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("authtest: generate RSA key: %v", err)
	}
	return k
}

func newECKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("authtest: generate EC key: %v", err)
	}
	return k
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
