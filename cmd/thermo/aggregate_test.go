package main

import (
	"context"
	"strings"
	"testing"
)

func TestAggregate(t *testing.T) {
	t.Parallel()
	e := testEnv(t)
	id := newTenantID(t, testDatabaseURL())
	if r := runThermo(t, e, "tenant", "create", id, "--tz", "America/New_York"); r.code != 0 {
		t.Fatalf("tenant create: %q", r.stderr)
	}
	c := connect(t, testDatabaseURL())
	defer c.Close(context.Background())
	schema := `"tenant_` + id + `"`
	_, err := c.Exec(context.Background(), `
		INSERT INTO `+schema+`.devices (serial_number, name) VALUES ('SN-1', 'one');
		INSERT INTO `+schema+`.readings (device_id, recorded_at, temperature_celsius)
		SELECT 1, t, 20 FROM generate_series('2026-03-08 05:00Z'::timestamptz, '2026-03-10 03:59Z', '30 minutes') t`)
	if err != nil {
		t.Fatal(err)
	}
	r := runThermo(t, e, "aggregate", "--tenant", id, "--from", "2026-03-08", "--to", "2026-03-09")
	if r.code != 0 {
		t.Fatalf("aggregate: exit %d, stderr %q", r.code, r.stderr)
	}
	for _, want := range []string{
		"[1/2] tenant " + id + ", 2026-03-08: 1 devices, 1 changed in ",
		"[2/2] tenant " + id + ", 2026-03-09: 1 devices, 1 changed in ",
		"aggregated 2 of 2 days of tenant " + id + " (2 device-days) in ",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout %q lacks %q", r.stdout, want)
		}
	}
	var n23, n24 int
	_ = c.QueryRow(context.Background(), `SELECT
		(SELECT reading_count FROM `+schema+`.daily_stats WHERE date = '2026-03-08'),
		(SELECT reading_count FROM `+schema+`.daily_stats WHERE date = '2026-03-09')`).Scan(&n23, &n24)
	if n23 != 46 || n24 != 48 { // a 23 h and a 24 h day of half-hourly readings
		t.Errorf("reading counts %d, %d; want 46, 48", n23, n24)
	}
	if r := runThermo(t, e, "aggregate", "--tenant", id, "--from", "2026-03-08"); !strings.Contains(r.stdout, "0 changed") {
		t.Errorf("re-run: %q %q", r.stdout, r.stderr)
	}
	// Totals lost (or edited by hand): --rescan rebuilds them from the readings.
	if _, err := c.Exec(context.Background(), `DELETE FROM `+schema+`.daily_totals`); err != nil {
		t.Fatal(err)
	}
	r = runThermo(t, e, "aggregate", "--tenant", id, "--from", "2026-03-08", "--rescan")
	var n int
	_ = c.QueryRow(context.Background(), `SELECT reading_count FROM `+schema+`.daily_totals WHERE date = '2026-03-08'`).Scan(&n)
	if r.code != 0 || !strings.Contains(r.stdout, "2026-03-08: 1 devices, 0 changed") || n != 46 {
		t.Errorf("rescan: exit %d, stdout %q, stderr %q, totals count %d (want 46)", r.code, r.stdout, r.stderr, n)
	}
}

func TestAggregateUsage(t *testing.T) {
	t.Parallel()
	e := testEnv(t)
	wantOneLineError(t, runThermo(t, e, "aggregate", "--tenant", "BAD", "--from", "2026-01-01"), 2, "--tenant")
	wantOneLineError(t, runThermo(t, e, "aggregate", "--tenant", "acme", "--from", "yesterday"), 2, "--from")
	wantOneLineError(t, runThermo(t, e, "aggregate", "--tenant", "acme", "--from", "2026-01-02", "--to", "2026-01-01"), 2, "--to")
	wantOneLineError(t, runThermo(t, e, "aggregate", "--tenant", "nosuchtenant", "--from", "2026-01-01"), 1, "nosuchtenant")
	if r := runThermo(t, e, "help", "worker"); r.code != 0 || !strings.Contains(r.stdout, "REDIS_LOCK_URLS") {
		t.Errorf("worker help: %q", r.stdout)
	}
}
