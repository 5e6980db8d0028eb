package e2e_test

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/thermo/thermo"
	"github.com/thermo/thermo/postgres"
	"github.com/thermo/thermo/redis"
)

func testRedisURL() string {
	if u := os.Getenv("REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// newStats wires statistics as thermo serve does: PostgreSQL behind the
// Redis weekly cache.
func newStats(t *testing.T, db *postgres.DB, logger *slog.Logger) (*postgres.StatsService, thermo.StatsService) {
	t.Helper()
	rc, err := redis.Open(context.Background(), testRedisURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rc.Close)
	pg := postgres.NewStatsService(db)
	cache, err := redis.NewStatsCache(redis.StatsCacheOpts{Inner: pg, Cache: rc, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	return pg, cache
}

type weeklyStats struct {
	From, To string
	Count    int
	Avg      *float64
	Days     []struct {
		Date  string
		Count int
	}
}

// Readings posted over HTTP, the nightly aggregation, a late reading and
// its pass: the weekly summary is cached, then refreshed when the device's
// statistics change.
func TestStatsOverHTTP(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.newTenant(t)
	dev := c.createDevice(t, "SN-STATS")
	now := time.Now().UTC()
	yesterday := thermo.LocalDate(now, time.UTC).AddDate(0, 0, -1)
	noon := yesterday.Add(12 * time.Hour)
	c.postBatch(t, dev.ID, []newReading{{TemperatureCelsius: 10, RecordedAt: noon}, {TemperatureCelsius: 20, RecordedAt: noon.Add(-48 * time.Hour)}})
	ctx := thermo.WithTenant(context.Background(), c.tenant)
	for _, d := range []time.Time{yesterday, yesterday.AddDate(0, 0, -2)} {
		if _, err := b.stats.AggregateDay(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	weekly := path("/v1/devices/%d/stats/weekly", dev.ID)
	var w weeklyStats
	c.call(t, http.MethodGet, weekly, nil, http.StatusOK, &w)
	if w.Count != 2 || len(w.Days) != 2 || *w.Avg != 15 || w.To != yesterday.Format(thermo.DateLayout) {
		t.Fatalf("weekly = %+v", w)
	}
	// A late reading for yesterday: marked, and the cached summary stays
	// until the late pass writes the device's statistics.
	c.postBatch(t, dev.ID, []newReading{{TemperatureCelsius: 30, RecordedAt: noon.Add(time.Hour)}})
	c.call(t, http.MethodGet, weekly, nil, http.StatusOK, &w)
	if w.Count != 2 {
		t.Fatalf("cached weekly changed before aggregation: %+v", w)
	}
	days, err := b.stats.DirtyDays(ctx)
	if err != nil || len(days) != 1 || !days[0].Equal(yesterday) {
		t.Fatalf("late days = %v, %v", days, err)
	}
	if _, err := b.stats.AggregateDirty(ctx, yesterday); err != nil {
		t.Fatal(err)
	}
	c.call(t, http.MethodGet, weekly, nil, http.StatusOK, &w)
	if w.Count != 3 || *w.Avg != 20 {
		t.Fatalf("weekly after the late pass = %+v", w)
	}
	var daily struct {
		Items []struct {
			Date  string
			Count int
			Max   float64
		}
	}
	from := yesterday.AddDate(0, 0, -6).Format(thermo.DateLayout)
	c.call(t, http.MethodGet, path("/v1/devices/%d/stats/daily?from=%s&to=%s", dev.ID, from, yesterday.Format(thermo.DateLayout)),
		nil, http.StatusOK, &daily)
	if len(daily.Items) != 2 || daily.Items[1].Count != 2 || daily.Items[1].Max != 30 {
		t.Fatalf("daily = %+v", daily)
	}
	// Another tenant asking for the same device id reaches neither the
	// device nor its cache entry.
	other := b.newTenant(t)
	other.fail(t, http.MethodGet, weekly, nil, http.StatusNotFound)
	other.fail(t, http.MethodGet, path("/v1/devices/%d/stats/daily?from=2026-01-01&to=2025-01-01", dev.ID), nil, http.StatusUnprocessableEntity)
}
