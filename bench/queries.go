package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// generateReadings fills the tenant's schema with devices × perDevice
// readings 30 s apart ending at the current minute, in SQL. Values are a
// function of (seed, device, n) only: a daily curve plus hashed noise.
func generateReadings(ctx context.Context, pool *pgxpool.Pool, schema string, devices, perDevice int, seed uint64) error {
	s := pgx.Identifier{schema}.Sanitize()
	stmts := []string{
		fmt.Sprintf(`TRUNCATE %[1]s.readings; DELETE FROM %[1]s.devices`, s),
		fmt.Sprintf(`INSERT INTO %s.devices (serial_number, name)
SELECT 'BENCH-Q-' || i, 'Sensor ' || lpad(i::text, 6, '0') FROM generate_series(1, %d) i`, s, devices),
		fmt.Sprintf(`INSERT INTO %[1]s.readings (device_id, recorded_at, temperature_celsius, humidity, battery_level)
SELECT d.id, date_trunc('minute', now()) - n * interval '30 seconds',
       20 + 3 * sin(2 * pi() * (n %% 2880) / 2880.0) + (abs(hashint8(d.id * 1000003 + n + %[3]d)) %% 1000) / 250.0,
       40 + (abs(hashint8(d.id + n * 7 + %[3]d)) %% 200) / 10.0,
       greatest(0.05, 1 - n / 200000.0)
FROM %[1]s.devices d, generate_series(0, %[2]d - 1) n`, s, perDevice, seed),
		fmt.Sprintf(`VACUUM (ANALYZE) %s.readings`, s),
	}
	for _, q := range stmts {
		if _, err := pool.Exec(ctx, q); err != nil {
			return fmt.Errorf("generate readings: %w", err)
		}
	}
	return nil
}

// query is one timed read operation.
type query struct {
	name string
	n    int                                             // requests per run
	path func(rng *rand.Rand, dev int64) (string, error) // request path for a device
}

// queryResult holds one run's latencies of one query.
type queryResult struct{ p50, p99 time.Duration }

// queries returns the read operations on a tenant whose devices each hold
// perDevice readings; deep maps a device to the cursor of its last page.
func queries(n int, deep map[int64]string) []query {
	week := func(*rand.Rand, int64) url.Values {
		now := time.Now().UTC().Truncate(time.Minute)
		return url.Values{"from": {now.Add(-7 * 24 * time.Hour).Format(time.RFC3339)},
			"to": {now.Add(time.Minute).Format(time.RFC3339)}, "minTemp": {"24"}, "limit": {"50"}}
	}
	return []query{
		{"latest, one device", n, func(_ *rand.Rand, d int64) (string, error) {
			return fmt.Sprintf("/v1/devices/%d/readings/latest", d), nil
		}},
		{"latest, all devices", max(10, n/10), func(*rand.Rand, int64) (string, error) { return "/v1/readings/latest", nil }},
		{"history page 1", n, func(_ *rand.Rand, d int64) (string, error) {
			return fmt.Sprintf("/v1/devices/%d/readings?limit=50", d), nil
		}},
		{"history deep page", n, func(_ *rand.Rand, d int64) (string, error) {
			c, ok := deep[d]
			if !ok {
				return "", fmt.Errorf("no deep cursor for device %d", d)
			}
			return fmt.Sprintf("/v1/devices/%d/readings?limit=50&cursor=%s", d, c), nil
		}},
		{"week range + minTemp", n, func(rng *rand.Rand, d int64) (string, error) {
			return fmt.Sprintf("/v1/devices/%d/readings?%s", d, week(rng, d).Encode()), nil
		}},
		{"hourly, 24 h", n, func(_ *rand.Rand, d int64) (string, error) {
			return fmt.Sprintf("/v1/devices/%d/readings/hourly?hours=24", d), nil
		}},
	}
}

// deepCursor walks a device's history to the cursor of its last page of
// 50 (position perDevice-50), with pages of up to 500.
func deepCursor(ctx context.Context, c *client, dev int64, perDevice int) (string, error) {
	cursor, pos := "", 0
	for target := perDevice - 50; pos < target; {
		limit := min(500, target-pos)
		path := fmt.Sprintf("/v1/devices/%d/readings?limit=%d", dev, limit)
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		var page struct {
			NextCursor *string
			Count      int
		}
		if err := c.call(ctx, http.MethodGet, path, nil, &page); err != nil {
			return "", err
		}
		if page.NextCursor == nil {
			return "", fmt.Errorf("device %d: history ended at %d readings", dev, pos+page.Count)
		}
		cursor, pos = *page.NextCursor, pos+page.Count
	}
	return cursor, nil
}

// runQuery times q's requests one after another on devices picked by rng.
func runQuery(ctx context.Context, c *client, q query, devices []int64, rng *rand.Rand) (queryResult, error) {
	lat := make([]time.Duration, 0, q.n)
	for range q.n {
		path, err := q.path(rng, devices[rng.IntN(len(devices))])
		if err != nil {
			return queryResult{}, err
		}
		took, err := c.do(ctx, http.MethodGet, path, nil, nil)
		if err != nil {
			return queryResult{}, fmt.Errorf("%s: %w", q.name, err)
		}
		lat = append(lat, took)
	}
	return queryResult{p50: percentile(lat, 0.5), p99: percentile(lat, 0.99)}, nil
}
