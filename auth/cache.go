package auth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/thermo/thermo"
)

// Cache remembers tokens its inner verifier accepted, so a device posting
// every few seconds with the same token pays for one signature check, not
// one per request (the check was a quarter of the CPU of single-reading
// ingestion). An entry lives until the token's exp or MaxAge, whichever is
// first; rejections are never cached. Keys are SHA-256 of the token.
type Cache struct {
	next    thermo.TokenVerifier
	size    int
	maxAge  time.Duration
	now     func() time.Time
	mu      sync.Mutex
	entries map[[sha256.Size]byte]cacheEntry
}

type cacheEntry struct {
	p     thermo.Principal
	until time.Time
}

// NewCache wraps next with a cache of at most size tokens, each kept at most
// maxAge (so a key removed from the JWKS stops working within maxAge).
func NewCache(next thermo.TokenVerifier, size int, maxAge time.Duration) *Cache {
	return &Cache{next: next, size: max(size, 1), maxAge: maxAge, now: time.Now,
		entries: make(map[[sha256.Size]byte]cacheEntry)}
}

// VerifyToken returns the cached principal of raw or verifies it.
func (c *Cache) VerifyToken(ctx context.Context, raw string) (thermo.Principal, error) {
	key := sha256.Sum256([]byte(raw))
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if ok && now.Before(e.until) {
		return e.p, nil
	}
	p, err := c.next.VerifyToken(ctx, raw)
	if err != nil {
		return p, err
	}
	until := now.Add(c.maxAge)
	if exp, ok := tokenExpiry(raw); ok && exp.Before(until) {
		until = exp
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.size {
		c.evict(now)
	}
	c.entries[key] = cacheEntry{p: p, until: until}
	return p, nil
}

// evict drops expired entries, or everything if none had expired: a full
// cache of live tokens is rare and refilling it is cheap.
func (c *Cache) evict(now time.Time) {
	for k, e := range c.entries {
		if !now.Before(e.until) {
			delete(c.entries, k)
		}
	}
	if len(c.entries) >= c.size {
		clear(c.entries)
	}
}

// tokenExpiry reads exp from a token the inner verifier has just accepted
// (so its payload is authentic).
func tokenExpiry(raw string) (time.Time, bool) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}, false
	}
	var claims struct {
		Exp *float64 `json:"exp"`
	}
	if json.Unmarshal(payload, &claims) != nil || claims.Exp == nil {
		return time.Time{}, false
	}
	return time.Unix(int64(*claims.Exp), 0), true
}
