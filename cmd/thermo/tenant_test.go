package main

import (
	"strings"
	"testing"
)

func TestTenantCreateList(t *testing.T) {
	t.Parallel()
	e := testEnv(t)
	id := newTenantID(t, testDatabaseURL())

	r := runThermo(t, e, "tenant", "create", id, "--name", "Test Co", "--tz", "Europe/Berlin", "--retention-days", "30")
	if r.code != 0 {
		t.Fatalf("tenant create: exit %d, stderr %q", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "tenant "+id+" created") {
		t.Errorf("tenant create output = %q", r.stdout)
	}
	if row, schema := tenantState(t, testDatabaseURL(), id); !row || !schema {
		t.Fatalf("after create: row %v, schema %v; want both", row, schema)
	}

	// Flags may also come before the id; an existing tenant is left as it is.
	r = runThermo(t, e, "tenant", "create", "--name", "Other", id)
	if r.code != 0 || !strings.Contains(r.stdout, "exists, unchanged") || !strings.Contains(r.stdout, `"Test Co"`) {
		t.Errorf("second create: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}

	r = runThermo(t, e, "tenant", "list")
	if r.code != 0 {
		t.Fatalf("tenant list: exit %d, stderr %q", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	header := lines[0]
	if fields := strings.Fields(header); strings.Join(fields, " ") != "ID NAME TIME ZONE RETENTION DAYS CREATED" {
		t.Fatalf("header = %q", header)
	}
	var row string
	for _, l := range lines[1:] {
		if strings.HasPrefix(l, id+" ") {
			row = l
		}
	}
	if row == "" {
		t.Fatalf("tenant list does not show %s:\n%s", id, r.stdout)
	}
	// Aligned: each value starts under its column heading.
	for _, col := range []struct{ heading, value string }{
		{"NAME", "Test Co"}, {"TIME ZONE", "Europe/Berlin"}, {"RETENTION DAYS", "30"}, {"CREATED", "20"},
	} {
		// Searched after the id, which is random hex and may contain "30".
		if got, want := len(id)+strings.Index(row[len(id):], col.value), strings.Index(header, col.heading); got != want {
			t.Errorf("%s at column %d, heading %s at %d:\n%s\n%s", col.value, got, col.heading, want, header, row)
		}
	}
}

// A hostile or malformed id is rejected before it reaches SQL: exit 2, one
// line, and nothing created.
func TestTenantCreateInvalid(t *testing.T) {
	t.Parallel()
	e := testEnv(t)
	tests := []struct {
		name string
		args []string
		id   string
		want string
	}{
		{"injection", []string{"Bad;id"}, "Bad;id", `tenant id "Bad;id" must match`},
		{"quote", []string{`x"; DROP SCHEMA public; --`}, `x"; DROP SCHEMA public; --`, "must match"},
		{"look-alike", []string{"аcme"}, "аcme", "must match"}, // Cyrillic а
		{"too long", []string{"a" + strings.Repeat("b", 63)}, "a" + strings.Repeat("b", 63), "must match"},
		{"reserved", []string{"public"}, "public", "reserved"},
		{"pg_catalog", []string{"pg_catalog"}, "pg_catalog", "reserved"},
		{"time zone", []string{"c_tz_invalid", "--tz", "Mars/Olympus"}, "c_tz_invalid", "--tz: unknown IANA time zone"},
		{"retention", []string{"c_ret_invalid", "--retention-days", "-1"}, "c_ret_invalid", "--retention-days: must be between"},
		{"two ids", []string{"c_one", "c_two"}, "c_one", "want exactly one tenant id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := runThermo(t, e, append([]string{"tenant", "create"}, tt.args...)...)
			wantOneLineError(t, r, 2, "thermo tenant create: ", tt.want)
			if row, schema := tenantState(t, testDatabaseURL(), tt.id); row || schema {
				t.Errorf("%q: row %v, schema %v; want neither", tt.id, row, schema)
			}
		})
	}
}
