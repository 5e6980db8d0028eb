package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/thermo/thermo/auth"
)

// client calls the API as one tenant and times each request.
type client struct {
	url, token string
	http       *http.Client
}

func newClient(url, devKey, tenant string, conns int) (*client, error) {
	issuer, err := auth.LoadDevIssuer(devKey)
	if err != nil {
		return nil, err
	}
	token, err := issuer.Mint(tenant, "bench", 6*time.Hour)
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}
	return &client{url: url, token: token, http: &http.Client{Timeout: time.Minute, Transport: tr}}, nil
}

// do sends body (pre-encoded JSON or nil), checks the status is 2xx and
// decodes into out unless nil. It returns the client-side latency.
func (c *client) do(ctx context.Context, method, path string, body []byte, out any) (time.Duration, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	took := time.Since(start)
	if err != nil {
		return took, err
	}
	if resp.StatusCode/100 != 2 {
		return took, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, bytes.TrimSpace(data))
	}
	if out != nil {
		return took, json.Unmarshal(data, out)
	}
	return took, nil
}

// call is do with a JSON-encoded body.
func (c *client) call(ctx context.Context, method, path string, body, out any) error {
	var data []byte
	if body != nil {
		var err error
		if data, err = json.Marshal(body); err != nil {
			return err
		}
	}
	_, err := c.do(ctx, method, path, data, out)
	return err
}

// createDevices registers n devices BENCH-<prefix>-<i> and returns their ids.
func (c *client) createDevices(ctx context.Context, prefix string, n int) ([]int64, error) {
	ids := make([]int64, n)
	for i := range ids {
		var d struct{ ID int64 }
		body := map[string]string{"serialNumber": fmt.Sprintf("BENCH-%s-%d", prefix, i+1)}
		if err := c.call(ctx, http.MethodPost, "/v1/devices", body, &d); err != nil {
			return nil, err
		}
		ids[i] = d.ID
	}
	return ids, nil
}

// reading is a posted reading.
type reading struct {
	TemperatureCelsius float64   `json:"temperatureCelsius"`
	Humidity           float64   `json:"humidity"`
	BatteryLevel       float64   `json:"batteryLevel"`
	RecordedAt         time.Time `json:"recordedAt"`
}
