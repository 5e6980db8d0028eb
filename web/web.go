// Package web embeds Thermo's dashboard: plain HTML, CSS and JavaScript,
// no build step. The page signs in with a bearer token (through the OIDC
// provider with authorization code + PKCE, pasted, or minted by
// POST /dev/token in dev mode), reads the JSON API and follows GET /v1/live
// with a single-use ticket.
package web

import (
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
	"net/url"
)

//go:embed static
var assets embed.FS

// Config is what the page needs to know about its deployment.
type Config struct {
	// OIDCIssuer and OIDCClientID enable sign-in through the provider (a
	// public client whose redirect URI is the dashboard's URL).
	OIDCIssuer   string `json:"oidcIssuer,omitempty"`
	OIDCClientID string `json:"oidcClientId,omitempty"`
}

// Handler serves the dashboard: / is the page, /static/ its assets and
// /static/config.json the Config.
func Handler(cfg Config) http.Handler {
	if cfg.OIDCIssuer == "" || cfg.OIDCClientID == "" {
		cfg = Config{}
	}
	config, _ := json.Marshal(cfg)
	connect := "'self'"
	if u, err := url.Parse(cfg.OIDCIssuer); err == nil && u.Host != "" {
		connect += " " + u.Scheme + "://" + u.Host // discovery and token endpoint
	}
	csp := "default-src 'self'; style-src 'self'; img-src 'self' data:; connect-src " + connect
	static, _ := fs.Sub(assets, "static")
	mux := http.NewServeMux()
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /static/config.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(config)
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("Content-Security-Policy", csp)
		http.ServeFileFS(w, r, static, "index.html")
	})
	return mux
}
