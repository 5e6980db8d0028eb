package main

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestSimulate runs the simulator for a few seconds against an in-process
// `thermo serve --dev`, twice: the second run finds its devices registered.
func TestSimulate(t *testing.T) {
	t.Parallel()
	e := testEnv(t)
	tenant := newTenantID(t, testDatabaseURL())
	s := startServe(t, e, "--dev")
	args := []string{"simulate", "--url", s.url, "--tenants", tenant, "--devices", "8",
		"--interval", "100ms", "--duration", "2500ms", "--report-every", "1s"}

	for run := 1; run <= 2; run++ {
		r := runThermo(t, e, args...)
		if r.code != 0 {
			t.Fatalf("run %d: exit %d, stderr %q, stdout %q", run, r.code, r.stderr, r.stdout)
		}
		sum := summary(t, r.stdout)
		if sum["stored"] == 0 || sum["duplicates"] == 0 || sum["errors"] != 0 {
			t.Errorf("run %d: want readings stored, duplicates and no errors:\n%s", run, r.stdout)
		}
		if !strings.Contains(r.stdout, "simulating 8 devices in 1 tenants") {
			t.Errorf("run %d: no start line:\n%s", run, r.stdout)
		}
	}

	token := mintDevToken(t, e, tenant, "check")
	status, body := s.get(t, "/v1/devices?pageSize=100", token)
	var list struct {
		Total int
		Data  []struct{ ID int64 }
	}
	if err := json.Unmarshal(body, &list); status != http.StatusOK || err != nil {
		t.Fatalf("GET /v1/devices = %d %s (%v)", status, body, err)
	}
	if list.Total != 8 {
		t.Fatalf("devices after two runs = %d, want 8 (registration must be idempotent)", list.Total)
	}
	c := connect(t, testDatabaseURL())
	defer c.Close(context.Background())
	var stored, late int
	err := c.QueryRow(context.Background(), `SELECT count(*),
		count(*) FILTER (WHERE created_at - recorded_at > interval '300 ms')
		FROM "tenant_`+tenant+`".readings`).Scan(&stored, &late)
	if err != nil {
		t.Fatal(err)
	}
	if stored == 0 || late == 0 {
		t.Errorf("stored %d readings, %d uploaded late: want both > 0", stored, late)
	}
}

// summary parses the counters of the simulator's summary line.
func summary(t *testing.T, out string) map[string]int {
	t.Helper()
	i := strings.Index(out, "summary after")
	if i < 0 {
		t.Fatalf("no summary line in:\n%s", out)
	}
	got := map[string]int{}
	for _, m := range regexp.MustCompile(`(sent|stored|duplicates|errors|requests) (\d+)`).FindAllStringSubmatch(out[i:], -1) {
		got[m[1]], _ = strconv.Atoi(m[2])
	}
	return got
}

func TestSimulateBadFlags(t *testing.T) {
	t.Parallel()
	e := testEnv(t)
	for _, args := range [][]string{
		{"--devices", "0"},
		{"--interval", "0s"},
		{"--tenants", "Bad-Tenant"},
		{"--url", "localhost:8080"},
		{"--batch", "20000"},
	} {
		r := runThermo(t, e, append([]string{"simulate"}, args...)...)
		wantOneLineError(t, r, 2, args[0])
	}
}
