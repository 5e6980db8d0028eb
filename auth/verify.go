// Package auth turns bearer tokens into thermo.Principals: OIDC access tokens
// verified against the issuer's JWKS (OIDC), self-signed development tokens
// (DevIssuer), and a router between them keyed by issuer (Multi).
//
// The tenant of a request is taken only from a signed claim of a verified
// token; every rejection is an EUNAUTHORIZED *thermo.Error whose message is
// safe to send to the client and never contains the token.
package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/thermo/thermo"
)

// Defaults shared by the verifiers.
const (
	DefaultTenantClaim = "tenantId"
	DefaultLeeway      = 30 * time.Second
)

// maxTokenBytes bounds the work done on a token before its signature is
// checked; Keycloak access tokens are a few KiB.
const maxTokenBytes = 16 << 10

// unauthorized returns the EUNAUTHORIZED error every rejection uses.
func unauthorized(format string, args ...any) error {
	return thermo.Errorf(thermo.EUNAUTHORIZED, format, args...)
}

// keyFunc returns the key that verifies a token signed with alg by the key
// named kid ("" when the token names none).
type keyFunc func(ctx context.Context, kid string, alg jose.SignatureAlgorithm) (*jose.JSONWebKey, error)

// claimRules are the checks a verified token's claims must pass.
type claimRules struct {
	issuer      string
	audience    string
	tenantClaim string
	leeway      time.Duration
	now         func() time.Time
}

// tokenClaims is the part of a token's payload that Thermo reads.
type tokenClaims struct {
	jwt.Claims
	// AuthorizedParty is the client the token was issued to. Keycloak sets
	// aud to "account" by default and names the client here.
	AuthorizedParty string `json:"azp,omitempty"`
}

// verifyToken checks raw's algorithm and signature with the key keys returns,
// then its claims against rules.
func verifyToken(ctx context.Context, raw string, rules claimRules, keys keyFunc) (thermo.Principal, error) {
	if raw == "" {
		return thermo.Principal{}, unauthorized("missing bearer token")
	} else if len(raw) > maxTokenBytes {
		return thermo.Principal{}, unauthorized("token too large")
	}
	// The allow-list rejects "none" and every HMAC algorithm before a key is
	// looked at, so an RSA public key can never be used as an HMAC secret.
	sig, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		var algErr *jose.ErrUnexpectedSignatureAlgorithm
		if errors.As(err, &algErr) {
			return thermo.Principal{}, unauthorized("token signing algorithm must be RS256 or ES256")
		}
		return thermo.Principal{}, unauthorized("malformed token")
	}
	if len(sig.Signatures) != 1 {
		return thermo.Principal{}, unauthorized("malformed token")
	}
	h := sig.Signatures[0].Header
	key, err := keys(ctx, h.KeyID, jose.SignatureAlgorithm(h.Algorithm))
	if err != nil {
		return thermo.Principal{}, err
	}
	payload, err := sig.Verify(key.Key)
	if err != nil {
		return thermo.Principal{}, unauthorized("invalid token signature")
	}
	return rules.check(payload)
}

// check validates the claims of a token whose signature has been verified.
func (r claimRules) check(payload []byte) (thermo.Principal, error) {
	var c tokenClaims
	var all map[string]json.RawMessage
	if err := json.Unmarshal(payload, &c); err != nil {
		return thermo.Principal{}, unauthorized("malformed token claims")
	} else if err := json.Unmarshal(payload, &all); err != nil {
		return thermo.Principal{}, unauthorized("malformed token claims")
	}
	now := r.now()
	switch {
	case c.Expiry == nil:
		return thermo.Principal{}, unauthorized("token has no expiry")
	case now.After(c.Expiry.Time().Add(r.leeway)):
		return thermo.Principal{}, unauthorized("token expired")
	case c.NotBefore != nil && now.Add(r.leeway).Before(c.NotBefore.Time()):
		return thermo.Principal{}, unauthorized("token not valid yet")
	case c.IssuedAt != nil && now.Add(r.leeway).Before(c.IssuedAt.Time()):
		return thermo.Principal{}, unauthorized("token issued in the future")
	case c.Issuer != r.issuer:
		return thermo.Principal{}, unauthorized("token issuer does not match")
	case !c.Audience.Contains(r.audience) && c.AuthorizedParty != r.audience:
		return thermo.Principal{}, unauthorized("token audience does not include %s", r.audience)
	case c.Subject == "":
		return thermo.Principal{}, unauthorized("token has no subject")
	}
	tenant, err := r.tenant(all)
	if err != nil {
		return thermo.Principal{}, err
	}
	return thermo.Principal{Subject: c.Subject, TenantID: tenant, Issuer: c.Issuer}, nil
}

// tenant returns the valid tenant id in the tenant claim. The value is not
// echoed: it comes from the token.
func (r claimRules) tenant(all map[string]json.RawMessage) (string, error) {
	raw, ok := all[r.tenantClaim]
	if !ok || string(raw) == "null" {
		return "", unauthorized("token has no %s claim", r.tenantClaim)
	}
	var tenant string
	if err := json.Unmarshal(raw, &tenant); err != nil {
		return "", unauthorized("token %s claim must be a string", r.tenantClaim)
	}
	if thermo.ValidateTenantID(tenant) != nil {
		return "", unauthorized("token %s claim is not a valid tenant id", r.tenantClaim)
	}
	return tenant, nil
}

// keySet is a verifier's public signing keys.
type keySet []jose.JSONWebKey

// find returns the key that verifies a token with kid and alg. A token
// without kid may use the only key of a one-key set. find returns a nil key
// and nil error when no key has kid, so the caller may refetch.
func (s keySet) find(kid string, alg jose.SignatureAlgorithm) (*jose.JSONWebKey, error) {
	if kid == "" {
		if len(s) != 1 {
			return nil, unauthorized("token has no key id")
		} else if !usableFor(&s[0], alg) {
			return nil, unauthorized("signing key does not match token algorithm")
		}
		return &s[0], nil
	}
	named := false
	for i := range s {
		if s[i].KeyID != kid {
			continue
		}
		named = true
		if usableFor(&s[i], alg) {
			return &s[i], nil
		}
	}
	if named {
		return nil, unauthorized("signing key does not match token algorithm")
	}
	return nil, nil
}

// usableFor reports whether k may verify a signature made with alg: a
// signing key of the algorithm's type (RSA of 2048+ bits, or EC P-256) that
// does not declare another use or algorithm.
func usableFor(k *jose.JSONWebKey, alg jose.SignatureAlgorithm) bool {
	if k.Use != "" && k.Use != "sig" {
		return false
	} else if k.Algorithm != "" && k.Algorithm != string(alg) {
		return false
	}
	switch pub := k.Key.(type) {
	case *rsa.PublicKey:
		return alg == jose.RS256 && pub.N.BitLen() >= 2048
	case *ecdsa.PublicKey:
		return alg == jose.ES256 && pub.Curve == elliptic.P256()
	}
	return false
}

// The verifiers are thermo.TokenVerifiers.
var (
	_ thermo.TokenVerifier = (*OIDC)(nil)
	_ thermo.TokenVerifier = (*DevIssuer)(nil)
	_ thermo.TokenVerifier = (*Multi)(nil)
)
