package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Limits on fetching an issuer's documents.
const (
	maxDocumentBytes = 1 << 20
	fetchTimeout     = 10 * time.Second
)

// remoteKeys is an issuer's JWKS, refetched when a token names a key it does
// not hold: at most once per interval, one fetch shared by all callers.
type remoteKeys struct {
	url      string
	client   *http.Client
	interval time.Duration
	now      func() time.Time
	log      *slog.Logger

	mu        sync.Mutex
	keys      keySet
	refetched time.Time     // start of the last refetch; zero before the first
	inflight  chan struct{} // closed when the running refetch ends; nil if none
}

// key returns the key for kid and alg, refetching the JWKS if kid is unknown
// and the last refetch is at least interval ago.
func (r *remoteKeys) key(ctx context.Context, kid string, alg jose.SignatureAlgorithm) (*jose.JSONWebKey, error) {
	r.mu.Lock()
	if k, err := r.keys.find(kid, alg); k != nil || err != nil {
		r.mu.Unlock()
		return k, err
	}
	done := r.inflight
	if done == nil {
		if !r.refetched.IsZero() && r.now().Sub(r.refetched) < r.interval {
			r.mu.Unlock()
			r.log.DebugContext(ctx, "unknown JWKS key id; refetch rate-limited", "jwks_uri", r.url)
			return nil, unauthorized("unknown signing key")
		}
		done = make(chan struct{})
		r.inflight, r.refetched = done, r.now()
		// The fetch is shared, so it must outlive the caller that started it.
		go r.refetch(context.WithoutCancel(ctx), done)
	}
	r.mu.Unlock()

	select {
	case <-done:
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for JWKS refetch: %w", ctx.Err())
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if k, err := r.keys.find(kid, alg); k != nil || err != nil {
		return k, err
	}
	return nil, unauthorized("unknown signing key")
}

// refetch replaces the keys with a fresh copy of the JWKS, keeping the old
// ones if the fetch fails, and closes done.
func (r *remoteKeys) refetch(ctx context.Context, done chan struct{}) {
	keys, err := fetchJWKS(ctx, r.client, r.url)
	r.mu.Lock()
	if err == nil {
		r.keys = keys
	}
	r.inflight = nil
	r.mu.Unlock()
	close(done)
	if err != nil {
		r.log.WarnContext(ctx, "JWKS refetch failed", "jwks_uri", r.url, "err", err)
		return
	}
	r.log.InfoContext(ctx, "JWKS refetched", "jwks_uri", r.url, "keys", len(keys))
}

// fetchJWKS returns the RSA and EC public keys of the JWKS at url. Keys that
// do not parse (unknown types, encryption-only) are skipped, not fatal.
func fetchJWKS(ctx context.Context, client *http.Client, url string) (keySet, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := getJSON(ctx, client, url, &doc); err != nil {
		return nil, err
	}
	if doc.Keys == nil {
		return nil, fmt.Errorf("no \"keys\" member in JWKS document")
	}
	var keys keySet
	for _, raw := range doc.Keys {
		var k jose.JSONWebKey
		if json.Unmarshal(raw, &k) != nil || !k.Valid() {
			continue
		}
		pub := k.Public()
		switch pub.Key.(type) {
		case *rsa.PublicKey, *ecdsa.PublicKey:
			keys = append(keys, pub)
		}
	}
	return keys, nil
}

// getJSON decodes the JSON document at url into dst.
func getJSON(ctx context.Context, client *http.Client, url string, dst any) error {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("GET: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET: unexpected status %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentBytes+1))
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	} else if len(body) > maxDocumentBytes {
		return fmt.Errorf("document larger than %d bytes", maxDocumentBytes)
	}
	if err := json.Unmarshal(body, dst); err != nil {
		return fmt.Errorf("decode JSON: %w", err)
	}
	return nil
}
