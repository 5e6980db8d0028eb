package e2e_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/thermo/thermo/httpapi"
	"github.com/thermo/thermo/web"
)

// fakeProvider is the browser-facing half of an OIDC provider: it
// authorizes at once (no login form) and hands out a token from the test
// issuer only for a code whose PKCE verifier matches its challenge.
type fakeProvider struct {
	url, clientID, token string

	mu         sync.Mutex
	challenges map[string]string // code → code_challenge
	verified   bool
}

func newFakeProvider(t *testing.T, clientID string) *fakeProvider {
	p := &fakeProvider{clientID: clientID, challenges: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		_ = json.NewEncoder(w).Encode(map[string]string{
			"issuer": p.url, "authorization_endpoint": p.url + "/authorize", "token_endpoint": p.url + "/token",
		})
	})
	mux.HandleFunc("GET /authorize", p.authorize)
	mux.HandleFunc("POST /token", p.exchange)
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	p.url = ts.URL
	return p
}

func (p *fakeProvider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("response_type") != "code" || q.Get("client_id") != p.clientID ||
		q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
		http.Error(w, "bad authorization request", http.StatusBadRequest)
		return
	}
	code := uniqueID("code")
	p.mu.Lock()
	p.challenges[code] = q.Get("code_challenge")
	p.mu.Unlock()
	back, err := url.Parse(q.Get("redirect_uri"))
	if err != nil {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	back.RawQuery = url.Values{"code": {code}, "state": {q.Get("state")}}.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

func (p *fakeProvider) exchange(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	p.mu.Lock()
	defer p.mu.Unlock()
	challenge, ok := p.challenges[r.PostFormValue("code")]
	sum := sha256.Sum256([]byte(r.PostFormValue("code_verifier")))
	if !ok || r.PostFormValue("grant_type") != "authorization_code" || r.PostFormValue("client_id") != p.clientID ||
		base64.RawURLEncoding.EncodeToString(sum[:]) != challenge {
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant"})
		return
	}
	delete(p.challenges, r.PostFormValue("code"))
	p.verified = true
	_ = json.NewEncoder(w).Encode(map[string]string{"access_token": p.token, "token_type": "Bearer"})
}

// TestBrowser_OIDCSignIn signs in through the provider with authorization
// code + PKCE and lands on the tenant's dashboard.
func TestBrowser_OIDCSignIn(t *testing.T) {
	ctx := newBrowser(t)
	provider := newFakeProvider(t, "thermo-dashboard")
	b := setup(t, func(b *bundle, o *httpapi.ServerOpts) {
		o.Dashboard = web.Handler(web.Config{OIDCIssuer: provider.url, OIDCClientID: "thermo-dashboard"})
	}, withLive(t))
	c := b.newTenant(t)
	c.createDevice(t, "OIDC-1")
	provider.mu.Lock()
	provider.token = c.token // the provider signs this user in
	provider.mu.Unlock()

	err := chromedp.Do(ctx,
		chromedp.Navigate(b.url+"/"),
		chromedp.WaitVisible("#oidc"),
		chromedp.Click("#oidc"),
		chromedp.WaitVisible(`#devices li[data-device]`),
	)
	if err != nil {
		t.Fatalf("OIDC sign-in: %v", err)
	}
	if who := run(t, ctx, chromedp.Text("#who")); who != c.tenant {
		t.Fatalf("signed in as %q, want tenant %s", who, c.tenant)
	}
	provider.mu.Lock()
	defer provider.mu.Unlock()
	if !provider.verified {
		t.Fatal("the token endpoint never checked a PKCE verifier")
	}
}
