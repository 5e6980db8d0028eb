package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/thermo/thermo"
)

// The dev issuer's iss and aud claims.
const (
	DevIssuerName = "thermo-dev"
	DevAudience   = "thermo"
)

// DevIssuer mints and verifies ES256 tokens signed with a local key, for
// development only: `thermo serve` trusts it only with --dev.
type DevIssuer struct {
	// TenantClaim names the claim holding the tenant id (DefaultTenantClaim).
	TenantClaim string
	// Now returns the current time (default time.Now).
	Now func() time.Time

	key *ecdsa.PrivateKey
	pub jose.JSONWebKey // public key with its kid
}

// DefaultDevKeyPath returns $THERMO_DEV_KEY if set, else
// dev-signing-key.pem under thermo/ in the user's configuration directory.
func DefaultDevKeyPath() (string, error) {
	if p := os.Getenv("THERMO_DEV_KEY"); p != "" {
		return p, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("dev signing key path: %w; set THERMO_DEV_KEY", err)
	}
	return filepath.Join(dir, "thermo", "dev-signing-key.pem"), nil
}

// LoadDevIssuer loads the ECDSA P-256 private key PEM at path, creating it
// (mode 0600, parent directories 0700) if it does not exist.
func LoadDevIssuer(path string) (*DevIssuer, error) {
	key, err := readDevKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		key, err = createDevKey(path)
	}
	if err != nil {
		return nil, err
	}
	pub := jose.JSONWebKey{Key: key.Public(), Algorithm: string(jose.ES256), Use: "sig"}
	thumb, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("dev signing key %s: thumbprint: %w", path, err)
	}
	pub.KeyID = base64.RawURLEncoding.EncodeToString(thumb)
	return &DevIssuer{key: key, pub: pub}, nil
}

// readDevKey parses the key at path (PKCS #8 or SEC 1 PEM).
func readDevKey(path string) (*ecdsa.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read dev signing key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("dev signing key %s: no PEM block; delete the file to create a new key", path)
	}
	var parsed any
	switch block.Type {
	case "PRIVATE KEY":
		parsed, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		parsed, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		err = fmt.Errorf("PEM type %q is not a private key", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("dev signing key %s: %w", path, err)
	}
	key, ok := parsed.(*ecdsa.PrivateKey)
	if !ok || key.Curve != elliptic.P256() {
		return nil, fmt.Errorf("dev signing key %s: not an ECDSA P-256 key; delete the file to create a new key", path)
	}
	return key, nil
}

// createDevKey writes a new key to path. If another process created the file
// first, its key is used instead.
func createDevKey(path string) (*ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate dev signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode dev signing key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create dev signing key directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return readDevKey(path)
	} else if err != nil {
		return nil, fmt.Errorf("create dev signing key: %w", err)
	}
	err = pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return nil, fmt.Errorf("write dev signing key %s: %w", path, err)
	}
	return key, nil
}

// Issuer returns DevIssuerName.
func (d *DevIssuer) Issuer() string { return DevIssuerName }

// KeyID returns the kid of d's tokens: the key's RFC 7638 thumbprint.
func (d *DevIssuer) KeyID() string { return d.pub.KeyID }

// Mint returns an ES256 token for subject in tenant, valid for ttl.
func (d *DevIssuer) Mint(tenant, subject string, ttl time.Duration) (string, error) {
	if err := thermo.ValidateTenantID(tenant); err != nil {
		return "", fmt.Errorf("mint dev token: %w", err)
	} else if subject == "" {
		return "", thermo.Errorf(thermo.EINVALID, "mint dev token: subject is empty")
	} else if ttl <= 0 {
		return "", thermo.Errorf(thermo.EINVALID, "mint dev token: ttl must be positive")
	}
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: d.key, KeyID: d.pub.KeyID}},
		(&jose.SignerOptions{}).WithType("JWT"),
	)
	if err != nil {
		return "", fmt.Errorf("mint dev token: %w", err)
	}
	now := d.now()
	claims := map[string]any{
		"iss":           DevIssuerName,
		"aud":           DevAudience,
		"sub":           subject,
		d.tenantClaim(): tenant,
		"iat":           now.Unix(),
		"nbf":           now.Unix(),
		"exp":           now.Add(ttl).Unix(),
	}
	raw, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		return "", fmt.Errorf("mint dev token: %w", err)
	}
	return raw, nil
}

// VerifyToken verifies a token minted by d, with the same checks as OIDC.
func (d *DevIssuer) VerifyToken(ctx context.Context, raw string) (thermo.Principal, error) {
	rules := claimRules{
		issuer:      DevIssuerName,
		audience:    DevAudience,
		tenantClaim: d.tenantClaim(),
		leeway:      DefaultLeeway,
		now:         d.now,
	}
	keys := keySet{d.pub}
	return verifyToken(ctx, raw, rules, func(_ context.Context, kid string, alg jose.SignatureAlgorithm) (*jose.JSONWebKey, error) {
		if k, err := keys.find(kid, alg); k != nil || err != nil {
			return k, err
		}
		return nil, unauthorized("unknown signing key")
	})
}

func (d *DevIssuer) tenantClaim() string {
	if d.TenantClaim == "" {
		return DefaultTenantClaim
	}
	return d.TenantClaim
}

func (d *DevIssuer) now() time.Time {
	if d.Now == nil {
		return time.Now()
	}
	return d.Now()
}
