package e2e_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

type (
	alertRule struct {
		ID                     int64   `json:"id"`
		DeviceID               int64   `json:"deviceId"`
		Condition              string  `json:"condition"`
		ThresholdCelsius       float64 `json:"thresholdCelsius"`
		ForSeconds             int     `json:"forSeconds"`
		ClearHysteresisCelsius float64 `json:"clearHysteresisCelsius"`
		IsEnabled              bool    `json:"isEnabled"`
		State                  string  `json:"state"`
	}
	alert struct {
		ID                 int64      `json:"id"`
		RuleID             int64      `json:"ruleId"`
		DeviceID           int64      `json:"deviceId"`
		TemperatureCelsius float64    `json:"temperatureCelsius"`
		FiredAt            time.Time  `json:"firedAt"`
		ResolvedAt         *time.Time `json:"resolvedAt"`
		AcknowledgedBy     *string    `json:"acknowledgedBy"`
		Version            int64      `json:"version"`
		Rule               *alertRule `json:"rule"`
	}
	alertPage struct {
		Data        []alert `json:"data"`
		NextCursor  *string `json:"nextCursor"`
		HasNextPage bool    `json:"hasNextPage"`
	}
)

// acknowledge posts an acknowledgement with If-Match (none if "").
func (c *client) acknowledge(t testing.TB, id int64, ifMatch string) (int, []byte, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.b.url+path("/v1/alerts/%d/acknowledge", id), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if ifMatch != "" {
		req.Header.Set("If-Match", ifMatch)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body, resp.Header.Get("ETag")
}

// hotDevice returns a device with an "above 30 °C" rule that has fired
// twice (one resolved, one open alert).
func hotDevice(t *testing.T, c *client) (device, alertRule) {
	t.Helper()
	d := c.createDevice(t, "TH-HOT")
	var r alertRule
	c.call(t, http.MethodPost, path("/v1/devices/%d/alert-rules", d.ID),
		map[string]any{"condition": "above", "thresholdCelsius": 30, "forSeconds": 60, "clearHysteresisCelsius": 2},
		http.StatusCreated, &r)
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	temps := []float64{20, 31, 32, 33, 29, 27, 20, 35, 35, 35, 35}
	rs := make([]newReading, len(temps))
	for i, v := range temps {
		rs[i] = newReading{TemperatureCelsius: v, RecordedAt: base.Add(time.Duration(i) * 30 * time.Second)}
	}
	c.postBatch(t, d.ID, rs)
	return d, r
}

func TestAlertRulesAndAlerts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.newTenant(t)
	d, r := hotDevice(t, c)
	if r.ID == 0 || !r.IsEnabled || r.State != "ok" || r.ForSeconds != 60 {
		t.Fatalf("rule = %+v", r)
	}
	p := c.fail(t, http.MethodPost, path("/v1/devices/%d/alert-rules", d.ID),
		map[string]any{"condition": "sideways", "thresholdCelsius": 30, "forSeconds": -5}, http.StatusUnprocessableEntity)
	if got := strings.Join(p.fields(), ","); !strings.Contains(got, "condition") || !strings.Contains(got, "forSeconds") {
		t.Errorf("invalid rule fields = %s", got)
	}
	c.fail(t, http.MethodPost, "/v1/devices/999999/alert-rules", map[string]any{"condition": "above", "thresholdCelsius": 1}, http.StatusNotFound)

	var page alertPage
	c.call(t, http.MethodGet, path("/v1/alerts?deviceId=%d", d.ID), nil, http.StatusOK, &page)
	if len(page.Data) != 2 || page.Data[0].ResolvedAt != nil || page.Data[1].ResolvedAt == nil ||
		page.Data[1].TemperatureCelsius != 33 || page.Data[0].Rule == nil || page.Data[0].Rule.ID != r.ID {
		t.Fatalf("alerts = %+v", page.Data)
	}
	var firing alertPage
	c.call(t, http.MethodGet, "/v1/alerts?state=firing&acknowledged=false&limit=1", nil, http.StatusOK, &firing)
	if len(firing.Data) != 1 || firing.Data[0].ID != page.Data[0].ID || firing.HasNextPage {
		t.Fatalf("firing = %+v", firing)
	}
	var first, second alertPage
	c.call(t, http.MethodGet, "/v1/alerts?limit=1", nil, http.StatusOK, &first)
	if !first.HasNextPage || first.NextCursor == nil {
		t.Fatalf("first page = %+v", first)
	}
	c.call(t, http.MethodGet, "/v1/alerts?limit=1&cursor="+*first.NextCursor, nil, http.StatusOK, &second)
	if len(second.Data) != 1 || second.Data[0].ID != page.Data[1].ID || second.HasNextPage {
		t.Fatalf("second page = %+v", second)
	}
	c.fail(t, http.MethodGet, path("/v1/alerts?deviceId=%d&cursor=%s", d.ID, *first.NextCursor), nil, http.StatusBadRequest)

	var off alertRule
	c.call(t, http.MethodPatch, path("/v1/devices/%d/alert-rules/%d", d.ID, r.ID), map[string]any{"isEnabled": false}, http.StatusOK, &off)
	c.call(t, http.MethodGet, "/v1/alerts?state=firing", nil, http.StatusOK, &firing)
	if off.IsEnabled || off.State != "ok" || len(firing.Data) != 0 {
		t.Fatalf("disabled rule %+v leaves %d firing alerts", off, len(firing.Data))
	}
	c.call(t, http.MethodDelete, path("/v1/devices/%d/alert-rules/%d", d.ID, r.ID), nil, http.StatusNoContent, nil)
	c.call(t, http.MethodGet, "/v1/alerts", nil, http.StatusOK, &page)
	if len(page.Data) != 0 {
		t.Fatalf("alerts of a deleted rule: %d", len(page.Data))
	}
}

// TestAcknowledgeOverHTTP: 428 without If-Match, 412 with the current
// version when stale, and of 20 concurrent acknowledgements with the same
// version exactly one succeeds.
func TestAcknowledgeOverHTTP(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.newTenant(t)
	hotDevice(t, c)
	var page alertPage
	c.call(t, http.MethodGet, "/v1/alerts?state=firing", nil, http.StatusOK, &page)
	a := page.Data[0]
	if status, body, _ := c.acknowledge(t, a.ID, ""); status != http.StatusPreconditionRequired {
		t.Fatalf("no If-Match = %d %s", status, body)
	}
	status, body, _ := c.acknowledge(t, a.ID, `"99"`)
	var p struct {
		Code           string `json:"code"`
		CurrentVersion int64  `json:"currentVersion"`
	}
	_ = json.Unmarshal(body, &p)
	if status != http.StatusPreconditionFailed || p.CurrentVersion != a.Version || p.Code != "precondition_failed" {
		t.Fatalf("stale If-Match = %d %s", status, body)
	}
	etag := fmt.Sprintf("%q", fmt.Sprint(a.Version))
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		counts = map[int]int{}
		etags  []string
	)
	for range 20 {
		wg.Go(func() {
			status, _, et := c.acknowledge(t, a.ID, etag)
			mu.Lock()
			defer mu.Unlock()
			counts[status]++
			if status == http.StatusOK {
				etags = append(etags, et)
			}
		})
	}
	wg.Wait()
	if counts[http.StatusOK] != 1 || counts[http.StatusPreconditionFailed] != 19 {
		t.Fatalf("statuses = %v, want one 200 and 19 412", counts)
	}
	var got alert
	c.call(t, http.MethodGet, path("/v1/alerts/%d", a.ID), nil, http.StatusOK, &got)
	if got.AcknowledgedBy == nil || *got.AcknowledgedBy != "sub-"+c.tenant || got.Version != a.Version+1 ||
		etags[0] != fmt.Sprintf("%q", fmt.Sprint(got.Version)) {
		t.Fatalf("acknowledged alert = %+v, etag %v", got, etags)
	}
	var unacked alertPage
	c.call(t, http.MethodGet, "/v1/alerts?acknowledged=false", nil, http.StatusOK, &unacked)
	if len(unacked.Data) != 1 || unacked.Data[0].ID == a.ID {
		t.Fatalf("unacknowledged = %+v", unacked.Data)
	}
}

// TestConcurrentIngestsOverHTTP: parallel posts of violating readings to
// one device fire one alert.
func TestConcurrentIngestsOverHTTP(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.newTenant(t)
	d := c.createDevice(t, "TH-C")
	c.call(t, http.MethodPost, path("/v1/devices/%d/alert-rules", d.ID), map[string]any{"condition": "below", "thresholdCelsius": 0}, http.StatusCreated, nil)
	base := time.Now().Add(-time.Hour)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			body := map[string]any{"temperatureCelsius": -5, "recordedAt": base.Add(time.Duration(i) * time.Second)}
			if status, data := c.do(t, http.MethodPost, path("/v1/devices/%d/readings", d.ID), body); status != http.StatusCreated {
				t.Errorf("ingest = %d %s", status, data)
			}
		})
	}
	wg.Wait()
	var page alertPage
	c.call(t, http.MethodGet, "/v1/alerts", nil, http.StatusOK, &page)
	if len(page.Data) != 1 {
		t.Fatalf("%d alerts after concurrent ingests, want 1", len(page.Data))
	}
}

func TestWebhookSecretShownOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.newTenant(t)
	c.fail(t, http.MethodGet, "/v1/notifications/webhook", nil, http.StatusNotFound)
	c.fail(t, http.MethodPut, "/v1/notifications/webhook", map[string]any{"url": "ftp://x"}, http.StatusUnprocessableEntity)
	var created struct{ URL, Secret string }
	c.call(t, http.MethodPut, "/v1/notifications/webhook", map[string]any{"url": "https://hooks.example/thermo"}, http.StatusOK, &created)
	if len(created.Secret) < 32 {
		t.Fatalf("generated secret %q", created.Secret)
	}
	status, body := c.do(t, http.MethodGet, "/v1/notifications/webhook", nil)
	if status != http.StatusOK || !bytes.Contains(body, []byte("hooks.example")) || bytes.Contains(body, []byte(created.Secret)) {
		t.Fatalf("GET webhook = %d %s", status, body)
	}
}

// TestAlertsCrossTenant: another tenant gets 404 for every rule and alert
// endpoint and sees no alerts.
func TestAlertsCrossTenant(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a, other := b.newTenant(t), b.newTenant(t)
	d, r := hotDevice(t, a)
	var page alertPage
	a.call(t, http.MethodGet, "/v1/alerts", nil, http.StatusOK, &page)
	al := page.Data[0]
	other.call(t, http.MethodGet, "/v1/tenant", nil, http.StatusOK, nil)
	rules := path("/v1/devices/%d/alert-rules", d.ID)
	rule := path("%s/%d", rules, r.ID)
	for _, tt := range []struct {
		method, path string
		body         any
	}{
		{http.MethodGet, rules, nil},
		{http.MethodPost, rules, map[string]any{"condition": "above", "thresholdCelsius": 1}},
		{http.MethodGet, rule, nil},
		{http.MethodPatch, rule, map[string]any{"isEnabled": false}},
		{http.MethodDelete, rule, nil},
		{http.MethodGet, path("/v1/alerts/%d", al.ID), nil},
		{http.MethodGet, path("/v1/alerts?deviceId=%d", d.ID), nil},
	} {
		other.fail(t, tt.method, tt.path, tt.body, http.StatusNotFound)
	}
	if status, body, _ := other.acknowledge(t, al.ID, `"1"`); status != http.StatusNotFound {
		t.Errorf("acknowledge as other tenant = %d %s", status, body)
	}
	other.call(t, http.MethodGet, "/v1/alerts", nil, http.StatusOK, &page)
	if len(page.Data) != 0 {
		t.Fatalf("other tenant sees %d alerts", len(page.Data))
	}
	var got alert
	a.call(t, http.MethodGet, path("/v1/alerts/%d", al.ID), nil, http.StatusOK, &got)
	var rr alertRule
	a.call(t, http.MethodGet, rule, nil, http.StatusOK, &rr)
	if got.AcknowledgedBy != nil || !rr.IsEnabled {
		t.Fatalf("tenant A's alert %+v / rule %+v changed", got, rr)
	}
}
