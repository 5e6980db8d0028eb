package auth_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/thermo/thermo"
	"github.com/thermo/thermo/auth"
)

// loadDev loads a dev issuer with a key in a fresh directory.
func loadDev(t *testing.T) (*auth.DevIssuer, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config", "thermo", "dev-signing-key.pem")
	d, err := auth.LoadDevIssuer(path)
	if err != nil {
		t.Fatalf("LoadDevIssuer: %v", err)
	}
	return d, path
}

func TestDevIssuer_MintVerify(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("Valid", func(t *testing.T) {
		t.Parallel()
		d, _ := loadDev(t)
		raw, err := d.Mint("acme", "alice", time.Minute)
		if err != nil {
			t.Fatalf("Mint: %v", err)
		}
		p, err := d.VerifyToken(ctx, raw)
		wantPrincipal(t, p, err, thermo.Principal{Subject: "alice", TenantID: "acme", Issuer: auth.DevIssuerName})
	})

	t.Run("Expired", func(t *testing.T) {
		t.Parallel()
		d, _ := loadDev(t)
		d.Now = func() time.Time { return time.Now().Add(-time.Hour) }
		raw, err := d.Mint("acme", "alice", time.Minute)
		if err != nil {
			t.Fatalf("Mint: %v", err)
		}
		d.Now = nil
		_, err = d.VerifyToken(ctx, raw)
		wantUnauthorized(t, err, raw, "token expired")
	})

	t.Run("OtherDevKey", func(t *testing.T) {
		t.Parallel()
		d, _ := loadDev(t)
		other, _ := loadDev(t)
		raw, err := other.Mint("acme", "alice", time.Minute)
		if err != nil {
			t.Fatalf("Mint: %v", err)
		}
		_, err = d.VerifyToken(ctx, raw)
		wantUnauthorized(t, err, raw, "unknown signing key")
	})

	t.Run("TenantClaim", func(t *testing.T) {
		t.Parallel()
		d, path := loadDev(t)
		d.TenantClaim = "org"
		raw, err := d.Mint("acme", "alice", time.Minute)
		if err != nil {
			t.Fatalf("Mint: %v", err)
		}
		p, err := d.VerifyToken(ctx, raw)
		wantPrincipal(t, p, err, thermo.Principal{Subject: "alice", TenantID: "acme", Issuer: auth.DevIssuerName})

		defaultClaim, err := auth.LoadDevIssuer(path)
		if err != nil {
			t.Fatalf("LoadDevIssuer: %v", err)
		}
		_, err = defaultClaim.VerifyToken(ctx, raw)
		wantUnauthorized(t, err, raw, "token has no tenantId claim")
	})

	t.Run("OnlyKeyWithoutKeyID", func(t *testing.T) {
		t.Parallel()
		d, path := loadDev(t)
		raw := signWithoutKeyID(t, path, map[string]any{
			"iss": auth.DevIssuerName, "aud": auth.DevAudience, "sub": "alice", "tenantId": "acme",
			"exp": time.Now().Add(time.Minute).Unix(),
		})
		p, err := d.VerifyToken(ctx, raw)
		wantPrincipal(t, p, err, thermo.Principal{Subject: "alice", TenantID: "acme", Issuer: auth.DevIssuerName})
	})

	t.Run("MintRejects", func(t *testing.T) {
		t.Parallel()
		d, _ := loadDev(t)
		for _, tc := range []struct {
			tenant, sub string
			ttl         time.Duration
		}{
			{"a'; drop", "alice", time.Minute},
			{"public", "alice", time.Minute},
			{"acme", "", time.Minute},
			{"acme", "alice", 0},
		} {
			raw, err := d.Mint(tc.tenant, tc.sub, tc.ttl)
			if code := thermo.ErrorCode(err); code != thermo.EINVALID {
				t.Errorf("Mint(%q, %q, %v) = %q, %v; want %s error", tc.tenant, tc.sub, tc.ttl, raw, err, thermo.EINVALID)
			}
		}
	})
}

// signWithoutKeyID signs claims with the dev key at path, omitting kid.
func signWithoutKeyID(t *testing.T, path string, claims map[string]any) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestLoadDevIssuer_KeyFile(t *testing.T) {
	t.Parallel()
	first, path := loadDev(t)

	info, err := os.Stat(path)
	if err != nil {
		t.Fatalf("key file not created: %v", err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("key file mode = %o, want 600", perm)
	}
	dir, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if perm := dir.Mode().Perm(); perm != 0o700 {
		t.Errorf("key directory mode = %o, want 700", perm)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	second, err := auth.LoadDevIssuer(path)
	if err != nil {
		t.Fatalf("second LoadDevIssuer: %v", err)
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(before) != string(after) {
		t.Fatal("second load rewrote the key file")
	}
	if first.KeyID() == "" || first.KeyID() != second.KeyID() {
		t.Fatalf("key ids = %q, %q; want the same non-empty id", first.KeyID(), second.KeyID())
	}
	raw, err := first.Mint("acme", "alice", time.Minute)
	if err != nil {
		t.Fatalf("Mint: %v", err)
	}
	p, err := second.VerifyToken(context.Background(), raw)
	wantPrincipal(t, p, err, thermo.Principal{Subject: "alice", TenantID: "acme", Issuer: auth.DevIssuerName})
}

func TestLoadDevIssuer_BadFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(path, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.LoadDevIssuer(path); err == nil {
		t.Fatal("LoadDevIssuer accepted a file without a PEM key")
	}
}

// Not parallel: t.Setenv.
func TestDefaultDevKeyPath(t *testing.T) {
	t.Run("Env", func(t *testing.T) {
		t.Setenv("THERMO_DEV_KEY", "/tmp/k.pem")
		got, err := auth.DefaultDevKeyPath()
		if err != nil || got != "/tmp/k.pem" {
			t.Fatalf("DefaultDevKeyPath() = %q, %v; want /tmp/k.pem", got, err)
		}
	})
	t.Run("UserConfigDir", func(t *testing.T) {
		t.Setenv("THERMO_DEV_KEY", "")
		dir, err := os.UserConfigDir()
		if err != nil {
			t.Skipf("no user config dir: %v", err)
		}
		got, err := auth.DefaultDevKeyPath()
		if want := filepath.Join(dir, "thermo", "dev-signing-key.pem"); err != nil || got != want {
			t.Fatalf("DefaultDevKeyPath() = %q, %v; want %q", got, err, want)
		}
	})
}
