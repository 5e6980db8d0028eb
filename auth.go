package thermo

import "context"

// TokenVerifier turns a bearer token into a Principal. It returns an
// EUNAUTHORIZED *Error for any token it does not accept; the message says
// why (expired, wrong audience, ...) without echoing the token.
type TokenVerifier interface {
	VerifyToken(ctx context.Context, raw string) (Principal, error)
}
