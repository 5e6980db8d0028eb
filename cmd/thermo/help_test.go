package main

import (
	"strings"
	"testing"
)

// allEnvVars are the environment variables the top-level help must list.
var allEnvVars = []string{
	"DATABASE_URL", "REPLICA_DATABASE_URL", "REDIS_URL", "OIDC_ISSUER_URL", "OIDC_AUDIENCE",
	"TENANT_CLAIM", "HTTP_ADDR", "LOG_LEVEL", "LOG_FORMAT", "THERMO_DEV_KEY", "SLOW_QUERY_MS",
	"SHUTDOWN_TIMEOUT",
}

func TestHelp(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--help"}, {"help"}, {"-h"}, {}} {
		t.Run(strings.Join(append([]string{"thermo"}, args...), " "), func(t *testing.T) {
			t.Parallel()
			r := runThermo(t, env{}, args...)
			out, wantCode := r.stdout, 0
			if len(args) == 0 { // no command is a usage error; help goes to stderr
				out, wantCode = r.stderr, 2
			}
			if r.code != wantCode {
				t.Errorf("exit code = %d, want %d", r.code, wantCode)
			}
			for _, cmd := range []string{"serve", "migrate", "tenant", "token", "version", "help"} {
				if !strings.Contains(out, "\n  "+cmd+" ") {
					t.Errorf("help does not list command %s:\n%s", cmd, out)
				}
			}
			for _, v := range allEnvVars {
				if !strings.Contains(out, "\n  "+v+" ") {
					t.Errorf("help does not list %s:\n%s", v, out)
				}
			}
			for _, s := range []string{"thermo <command> --help", "default postgres://postgres:postgres@127.0.0.1:5432/thermo?sslmode=disable", "default tenantId"} {
				if !strings.Contains(out, s) {
					t.Errorf("help does not contain %q", s)
				}
			}
		})
	}
}

// Each command's --help lists its flags and the environment variable behind
// each of them.
func TestCommandHelp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"serve", "--help"}, append([]string{"--dev", "--addr", "--database-url", "--replica-database-url",
			"--redis-url", "--oidc-issuer-url", "--oidc-audience", "--tenant-claim", "--log-level",
			"--log-format", "--dev-key", "--slow-query-ms", "--shutdown-timeout"}, allEnvVars...)},
		{[]string{"migrate", "--help"}, []string{"--parallel", "--database-url", "$DATABASE_URL", "$LOG_LEVEL", "$LOG_FORMAT"}},
		{[]string{"tenant", "--help"}, []string{"create <id>", "list"}},
		{[]string{"tenant", "create", "--help"}, []string{"--name", "--tz", "--retention-days", "$DATABASE_URL", "$LOG_LEVEL"}},
		{[]string{"tenant", "list", "--help"}, []string{"$DATABASE_URL", "$LOG_FORMAT"}},
		{[]string{"token", "--help"}, []string{"--tenant", "--sub", "--ttl", "$THERMO_DEV_KEY", "$TENANT_CLAIM", "--dev"}},
		{[]string{"version", "--help"}, []string{"Usage: thermo version"}},
		{[]string{"help", "tenant", "create"}, []string{"Usage: thermo tenant create <id>", "--tz"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			r := runThermo(t, env{}, tt.args...)
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("exit code %d, stderr %q; want 0 and no stderr", r.code, r.stderr)
			}
			for _, s := range tt.want {
				if !strings.Contains(r.stdout, s) {
					t.Errorf("help does not contain %q:\n%s", s, r.stdout)
				}
			}
		})
	}
}

// A bad setting or invocation stops with one line naming it and exit code 2,
// before anything is opened.
func TestUsageErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  env
		args []string
		want []string
	}{
		{"log level", env{"LOG_LEVEL": "loud"}, []string{"serve", "--dev"},
			[]string{`thermo serve: LOG_LEVEL="loud": must be one of debug, info, warn, error`}},
		{"log level flag", env{}, []string{"migrate", "--log-level", "loud"}, []string{`--log-level="loud"`}},
		{"log format", env{"LOG_FORMAT": "xml"}, []string{"tenant", "list"}, []string{`thermo tenant list: LOG_FORMAT="xml"`}},
		{"no issuer", env{}, []string{"serve"},
			[]string{"thermo serve: OIDC_ISSUER_URL is not set: set it to your Keycloak realm URL, or pass --dev for local development"}},
		{"issuer url", env{"OIDC_ISSUER_URL": "keycloak/realms/x"}, []string{"serve"}, []string{`OIDC_ISSUER_URL="keycloak/realms/x": must be an http(s) URL`}},
		{"addr", env{"HTTP_ADDR": "8080"}, []string{"serve", "--dev"}, []string{`HTTP_ADDR="8080": must be host:port`}},
		{"shutdown timeout", env{"SHUTDOWN_TIMEOUT": "soon"}, []string{"serve", "--dev"}, []string{`SHUTDOWN_TIMEOUT="soon"`}},
		{"slow query", env{"SLOW_QUERY_MS": "-5"}, []string{"serve", "--dev"}, []string{`SLOW_QUERY_MS="-5"`}},
		{"database url", env{"DATABASE_URL": "postgres://u:hunter2@h/db?sslmode=nope"}, []string{"serve", "--dev"},
			[]string{"DATABASE_URL: is not a valid PostgreSQL connection string"}},
		{"redis url", env{"REDIS_URL": "http://nope"}, []string{"serve", "--dev"}, []string{"REDIS_URL"}},
		{"unknown command", env{}, []string{"frobnicate"}, []string{`thermo: unknown command "frobnicate"`}},
		{"unknown flag", env{}, []string{"migrate", "--frob"}, []string{"thermo migrate: flag provided but not defined: -frob"}},
		{"tenant without command", env{}, []string{"tenant"}, []string{"thermo tenant: missing command"}},
		{"stray argument", env{}, []string{"version", "now"}, []string{`thermo version: unexpected argument "now"`}},
		{"parallel", env{}, []string{"migrate", "--parallel", "0"}, []string{"--parallel=0"}},
		{"token without tenant", env{}, []string{"token", "--sub", "alice"}, []string{"thermo token: --tenant is required"}},
		{"token bad tenant", env{}, []string{"token", "--tenant", "Bad;id", "--sub", "alice"}, []string{`thermo token: --tenant: tenant id "Bad;id"`}},
		{"token ttl", env{}, []string{"token", "--tenant", "acme", "--sub", "alice", "--ttl", "-1h"}, []string{"--ttl=-1h0m0s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := tt.env.with(envDevKey, t.TempDir()+"/key.pem")
			if e[envDatabaseURL] == "" {
				// Unreachable: a usage error must come before any connection.
				e[envDatabaseURL] = "postgres://postgres@127.0.0.1:1/none"
			}
			r := runThermo(t, e, tt.args...)
			wantOneLineError(t, r, 2, tt.want...)
			if strings.Contains(r.stderr, "hunter2") {
				t.Errorf("stderr leaks the database password: %q", r.stderr)
			}
		})
	}
}

// A runtime failure exits 1 with one line, not a stack trace.
func TestDatabaseUnreachable(t *testing.T) {
	t.Parallel()
	e := testEnv(t).with(envDatabaseURL, "postgres://postgres@127.0.0.1:1/none?connect_timeout=2")
	for _, args := range [][]string{{"serve", "--dev"}, {"migrate"}, {"tenant", "list"}, {"tenant", "create", "acme"}} {
		r := runThermo(t, e, args...)
		cmd := "thermo " + strings.Join(args, " ")
		cmd = strings.TrimSuffix(strings.TrimSuffix(cmd, " --dev"), " acme")
		wantOneLineError(t, r, 1, cmd+": DATABASE_URL: cannot reach PostgreSQL")
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	r := runThermo(t, env{}, "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "thermo ") || !strings.Contains(r.stdout, "tenant schema version") {
		t.Errorf("version = %d %q %q", r.code, r.stdout, r.stderr)
	}
}
