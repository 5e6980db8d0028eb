package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/thermo/thermo"
	"github.com/thermo/thermo/mock"
)

func TestStatsRoutes(t *testing.T) {
	t.Parallel()
	var gotFrom, gotTo time.Time
	stats := &mock.StatsService{
		FindDailyStatsFn: func(ctx context.Context, id int64, from, to time.Time) ([]*thermo.DailyStats, error) {
			gotFrom, gotTo = from, to
			if thermo.TenantFromContext(ctx) != testTenant || id != 7 {
				t.Errorf("FindDailyStats(%q, %d)", thermo.TenantFromContext(ctx), id)
			}
			return []*thermo.DailyStats{{DeviceID: 7, Date: "2026-03-08", Count: 2, Avg: 2, Min: 1, Max: 3}}, nil
		},
		FindWeeklyStatsFn: func(_ context.Context, id int64) (*thermo.WeeklyStats, error) {
			if id != 7 {
				return nil, thermo.Errorf(thermo.ENOTFOUND, "Device %d does not exist.", id)
			}
			return &thermo.WeeklyStats{DeviceID: 7, From: "2026-03-02", To: "2026-03-08", Days: []*thermo.DailyStats{}}, nil
		},
	}
	b := setup(t, func(b *testBundle) { b.opts.Stats = stats })

	resp, body := b.do(t, http.MethodGet, "/v1/devices/7/stats/daily?from=2026-03-01&to=2026-03-08", "", authed()...)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"date":"2026-03-08"`) ||
		gotFrom.Format(thermo.DateLayout) != "2026-03-01" || gotTo.Format(thermo.DateLayout) != "2026-03-08" {
		t.Fatalf("daily: %d %s (from %v to %v)", resp.StatusCode, body, gotFrom, gotTo)
	}
	resp, body = b.do(t, http.MethodGet, "/v1/devices/7/stats/daily?from=March&to=2026-03-08", "", authed()...)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(body), "from") {
		t.Fatalf("bad date: %d %s", resp.StatusCode, body)
	}
	resp, body = b.do(t, http.MethodGet, "/v1/devices/7/stats/weekly", "", authed()...)
	var w thermo.WeeklyStats
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &w) != nil || w.To != "2026-03-08" || w.Avg != nil {
		t.Fatalf("weekly: %d %s", resp.StatusCode, body)
	}
	resp, _ = b.do(t, http.MethodGet, "/v1/devices/8/stats/weekly", "", authed()...)
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown device: %d", resp.StatusCode)
	}
}
