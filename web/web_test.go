package web_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/thermo/thermo/web"
)

func TestHandlerServesEmbeddedAssets(t *testing.T) {
	t.Parallel()
	ts := httptest.NewServer(web.Handler(web.Config{}))
	defer ts.Close()
	for path, want := range map[string]string{
		"/":                   "<title>Thermo dashboard</title>",
		"/static/app.js":      "new EventSource(",
		"/static/style.css":   "@media (max-width: 480px)",
		"/static/nothing.js":  "404",
		"/static/config.json": "{}",
	} {
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), want) {
			t.Errorf("GET %s = %d, body lacks %q", path, resp.StatusCode, want)
		}
	}
}
