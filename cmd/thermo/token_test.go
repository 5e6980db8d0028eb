package main

import (
	"context"
	"strings"
	"testing"

	"github.com/thermo/thermo/auth"
)

func TestToken(t *testing.T) {
	t.Parallel()
	e := testEnv(t)
	r := runThermo(t, e, "token", "--tenant", "acme", "--sub", "alice", "--ttl", "5m")
	if r.code != 0 {
		t.Fatalf("token: exit %d, stderr %q", r.code, r.stderr)
	}
	// Only the token on stdout, so TOKEN=$(thermo token ...) works.
	token := strings.TrimSuffix(r.stdout, "\n")
	if strings.ContainsAny(token, " \n") || strings.Count(token, ".") != 2 {
		t.Fatalf("stdout is not just a token: %q", r.stdout)
	}
	if !strings.Contains(r.stderr, "only a server started with --dev") {
		t.Errorf("stderr has no --dev hint: %q", r.stderr)
	}

	dev, err := auth.LoadDevIssuer(e[envDevKey])
	if err != nil {
		t.Fatal(err)
	}
	p, err := dev.VerifyToken(context.Background(), token)
	if err != nil {
		t.Fatalf("dev issuer rejects the token: %v", err)
	}
	if p.TenantID != "acme" || p.Subject != "alice" || p.Issuer != auth.DevIssuerName {
		t.Errorf("principal = %+v", p)
	}
}

// The tenant claim follows TENANT_CLAIM, as the server's does.
func TestTokenTenantClaim(t *testing.T) {
	t.Parallel()
	e := testEnv(t).with(envTenantClaim, "org")
	r := runThermo(t, e, "token", "--tenant", "acme", "--sub", "alice")
	if r.code != 0 {
		t.Fatalf("token: exit %d, stderr %q", r.code, r.stderr)
	}
	token := strings.TrimSpace(r.stdout)
	dev, err := auth.LoadDevIssuer(e[envDevKey])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dev.VerifyToken(context.Background(), token); err == nil {
		t.Error("verifier reading tenantId accepted a token with the tenant in org")
	}
	dev.TenantClaim = "org"
	if p, err := dev.VerifyToken(context.Background(), token); err != nil || p.TenantID != "acme" {
		t.Errorf("verifier reading org: %+v, %v", p, err)
	}
}
