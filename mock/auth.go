package mock

import (
	"context"

	"github.com/thermo/thermo"
)

var _ thermo.TokenVerifier = (*TokenVerifier)(nil)

// TokenVerifier is a fake thermo.TokenVerifier.
type TokenVerifier struct {
	VerifyTokenFn func(ctx context.Context, raw string) (thermo.Principal, error)
}

func (v *TokenVerifier) VerifyToken(ctx context.Context, raw string) (thermo.Principal, error) {
	return v.VerifyTokenFn(ctx, raw)
}
