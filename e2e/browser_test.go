package e2e_test

import (
	"context"
	"flag"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/thermo/thermo/httpapi"
	"github.com/thermo/thermo/web"
)

var updateScreenshot = flag.Bool("update-screenshot", false, "write the dashboard screenshot to docs/dashboard.png")

// browserTimeout only keeps a broken browser test from hanging.
const browserTimeout = 90 * time.Second

// withDashboard serves the web dashboard and mints dev tokens from the
// test issuer, as thermo serve --dev does with its own key.
func withDashboard(b *bundle, o *httpapi.ServerOpts) {
	o.Dashboard = web.Handler(web.Config{})
	o.DevTokenFunc = func(tenant, subject string) (string, error) { return b.issuer.Token(tenant, subject), nil }
}

// chromium returns Debian's chromium or skips the test.
func chromium(t *testing.T) string {
	for _, p := range []string{os.Getenv("CHROMIUM"), "/usr/bin/chromium", "chromium"} {
		if p == "" {
			continue
		}
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	t.Skip("SKIP browser test: chromium is not installed (apt-get install chromium, or CI=1 scripts/services.sh)")
	return ""
}

func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1000, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, browserTimeout)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	return ctx
}

// TestBrowser_Dashboard signs in with a dev token, sees a device, watches
// its temperature change live when a reading is posted through the API,
// and acknowledges an alert, in headless Chromium.
func TestBrowser_Dashboard(t *testing.T) {
	ctx := newBrowser(t)
	b := setup(t, withLive(t), withDashboard)
	c := b.newTenant(t)
	d := c.createDevice(t, "LAB-FRIDGE-1")
	c.call(t, http.MethodPatch, path("/v1/devices/%d", d.ID), map[string]any{"name": "Server room"}, http.StatusOK, nil)
	c.call(t, http.MethodPost, path("/v1/devices/%d/alert-rules", d.ID),
		map[string]any{"condition": "above", "thresholdCelsius": 30}, http.StatusCreated, nil)
	now := time.Now().UTC().Truncate(time.Second)
	c.postBatch(t, d.ID, []newReading{
		{TemperatureCelsius: 24.5, RecordedAt: now.Add(-5 * time.Hour)},
		{TemperatureCelsius: 26, RecordedAt: now.Add(-3 * time.Hour)},
		{TemperatureCelsius: 31, RecordedAt: now.Add(-2 * time.Minute)}, // fires the alert
	})

	err := chromedp.Do(ctx,
		chromedp.Navigate(b.url+"/"),
		chromedp.SetValue("#tenant", c.tenant),
		chromedp.Click("#mint"),
		chromedp.WaitVisible(`#devices li[data-device]`),
		chromedp.Poll[chromedp.Void](`document.getElementById("live").textContent === "live"`),
	)
	if err != nil {
		t.Fatalf("sign in: %v", err)
	}
	if temp := run(t, ctx, chromedp.Text(`#devices li .temp`)); temp != "31.0 °C" {
		t.Fatalf("device shows %q, want 31.0 °C", temp)
	}
	run(t, ctx, chromedp.Evaluate[string](`window.__noReload = "same page"`))

	c.call(t, http.MethodPost, path("/v1/devices/%d/readings", d.ID),
		newReading{TemperatureCelsius: 32.5, RecordedAt: now}, http.StatusCreated, nil)
	run(t, ctx, chromedp.Poll[chromedp.Void](`document.querySelector("#devices li .temp").textContent === "32.5 °C"`))
	if marker := run(t, ctx, chromedp.Evaluate[string](`window.__noReload || ""`)); marker != "same page" {
		t.Fatal("the page reloaded: the value must change live")
	}

	err = chromedp.Do(ctx,
		chromedp.Click(`#alerts .ack-btn`),
		chromedp.WaitVisible(`#alerts li.acked`),
		chromedp.Click(`#devices li[data-device]`),
		chromedp.WaitVisible(`#chart svg polyline`),
		chromedp.WaitVisible(`#weekly table`),
	)
	if err != nil {
		t.Fatalf("acknowledge and chart: %v", err)
	}
	var alerts struct {
		Data []struct{ AcknowledgedBy *string } `json:"data"`
	}
	c.call(t, http.MethodGet, "/v1/alerts?state=firing", nil, http.StatusOK, &alerts)
	if len(alerts.Data) != 1 || alerts.Data[0].AcknowledgedBy == nil {
		t.Fatalf("alert not acknowledged through the dashboard: %+v", alerts)
	}
	saveScreenshot(t, ctx, "dashboard.png")

	// A phone-sized screen shows everything without horizontal scrolling.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile)); err != nil {
		t.Fatal(err)
	}
	if fits := run(t, ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth`)); !fits {
		t.Fatal("the dashboard is wider than a phone screen")
	}
	saveScreenshot(t, ctx, "dashboard-phone.png")
}

func saveScreenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png := run(t, ctx, chromedp.FullScreenshot(100)) // quality 100: PNG
	out := filepath.Join(t.TempDir(), name)
	if *updateScreenshot {
		out = filepath.Join("..", "docs", name)
	}
	if err := os.WriteFile(out, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot saved to %s", out)
}

// run runs one browser action and returns its value.
func run[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	return v
}
