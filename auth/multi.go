package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/thermo/thermo"
)

// Multi routes a token to the verifier of its issuer. `thermo serve` trusts
// the OIDC issuer always and the DevIssuer only with --dev.
type Multi struct {
	byIssuer map[string]thermo.TokenVerifier
}

// NewMulti returns a Multi trusting the verifiers, keyed by the issuer
// (iss claim) whose tokens each verifies.
func NewMulti(verifiers map[string]thermo.TokenVerifier) *Multi {
	m := &Multi{byIssuer: make(map[string]thermo.TokenVerifier, len(verifiers))}
	for iss, v := range verifiers {
		m.byIssuer[iss] = v
	}
	return m
}

// VerifyToken reads raw's unverified iss claim only to choose a verifier,
// which then verifies the whole token.
func (m *Multi) VerifyToken(ctx context.Context, raw string) (thermo.Principal, error) {
	if raw == "" {
		return thermo.Principal{}, unauthorized("missing bearer token")
	} else if len(raw) > maxTokenBytes {
		return thermo.Principal{}, unauthorized("token too large")
	}
	iss, err := unverifiedIssuer(raw)
	if err != nil {
		return thermo.Principal{}, err
	}
	v, ok := m.byIssuer[iss]
	if !ok {
		return thermo.Principal{}, unauthorized("untrusted token issuer")
	}
	return v.VerifyToken(ctx, raw)
}

// unverifiedIssuer returns the iss claim of a compact JWS without checking
// anything but its shape.
func unverifiedIssuer(raw string) (string, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return "", unauthorized("malformed token")
	}
	var header map[string]json.RawMessage
	var claims struct {
		Issuer *string `json:"iss"`
	}
	if !decodeSegment(parts[0], &header) || !decodeSegment(parts[1], &claims) {
		return "", unauthorized("malformed token")
	}
	if claims.Issuer == nil {
		return "", unauthorized("token has no issuer")
	}
	return *claims.Issuer, nil
}

// decodeSegment decodes one base64url JSON segment of a compact JWS.
func decodeSegment(seg string, dst any) bool {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	return err == nil && json.Unmarshal(b, dst) == nil
}
