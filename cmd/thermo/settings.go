package main

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Environment variables. Each is also a flag of the commands that use it.
const (
	envDatabaseURL     = "DATABASE_URL"
	envReplicaURL      = "REPLICA_DATABASE_URL"
	envRedisURL        = "REDIS_URL"
	envOIDCIssuer      = "OIDC_ISSUER_URL"
	envOIDCAudience    = "OIDC_AUDIENCE"
	envTenantClaim     = "TENANT_CLAIM"
	envHTTPAddr        = "HTTP_ADDR"
	envLogLevel        = "LOG_LEVEL"
	envLogFormat       = "LOG_FORMAT"
	envDevKey          = "THERMO_DEV_KEY"
	envSlowQueryMS     = "SLOW_QUERY_MS"
	envShutdownTimeout = "SHUTDOWN_TIMEOUT"
	envRedisLockURLs   = "REDIS_LOCK_URLS"
	envDashboardClient = "DASHBOARD_CLIENT_ID"
)

// settingDef describes a setting read from a flag or, failing that, from an
// environment variable, or else its default.
type settingDef struct {
	env, flag string
	def       string // "" means unset
	shownDef  string // shown in help instead of def, when def is computed later
	usage     string // a `backquoted` word names the flag's argument
	// secret settings are never echoed in error messages (passwords in URLs).
	secret bool
}

// settingDefs lists every setting, in the order help shows them.
func settingDefs() []settingDef {
	return []settingDef{
		{env: envDatabaseURL, flag: "database-url", secret: true,
			def:   "postgres://postgres:postgres@127.0.0.1:5432/thermo?sslmode=disable",
			usage: "primary PostgreSQL connection `URL`"},
		{env: envReplicaURL, flag: "replica-database-url", secret: true,
			usage: "read replica connection `URL`; when set, reads outside transactions go there"},
		{env: envRedisURL, flag: "redis-url", secret: true, def: "redis://127.0.0.1:6379/0",
			usage: "Redis `URL`; the API keeps serving while Redis is down"},
		{env: envOIDCIssuer, flag: "oidc-issuer-url",
			usage: "OIDC issuer `URL`, e.g. https://keycloak.example.com/realms/thermo"},
		{env: envOIDCAudience, flag: "oidc-audience", def: "thermo-api",
			usage: "`audience` (aud or azp) that OIDC tokens must carry"},
		{env: envTenantClaim, flag: "tenant-claim", def: "tenantId",
			usage: "token `claim` holding the tenant id"},
		{env: envHTTPAddr, flag: "addr", def: ":8080", usage: "`address` to serve HTTP on"},
		{env: envLogLevel, flag: "log-level", def: "info", usage: "log `level`: debug, info, warn or error"},
		{env: envLogFormat, flag: "log-format", def: "json", usage: "log `format`: json or text"},
		{env: envDevKey, flag: "dev-key", shownDef: "<user config dir>/thermo/dev-signing-key.pem",
			usage: "dev token signing key `file`, created if missing"},
		{env: envSlowQueryMS, flag: "slow-query-ms", def: "200",
			usage: "log statements slower than this many `ms` (0 disables)"},
		{env: envShutdownTimeout, flag: "shutdown-timeout", def: "15s",
			usage: "`duration` to drain in-flight requests on SIGTERM"},
		{env: envRedisLockURLs, flag: "redis-lock-urls", secret: true, shownDef: "REDIS_URL",
			usage: "comma-separated Redis `URLs` of independent nodes for Redlock locks"},
		{env: envDashboardClient, flag: "dashboard-client-id",
			usage: "OIDC public client `id` the web dashboard signs in with (authorization code + PKCE)"},
	}
}

// setting is one resolved settingDef.
type setting struct {
	settingDef
	Value string
	from  string // the flag or variable that set Value; "" for the default
}

// name is how errors refer to s: the flag or variable the user set.
func (s *setting) name() string {
	if s.from != "" {
		return s.from
	}
	return s.env
}

// invalid returns the usage error for s's value.
func (s *setting) invalid(reason string) error {
	if s.secret {
		return usagef("%s: %s", s.name(), reason)
	}
	return usagef("%s=%q: %s", s.name(), s.Value, reason)
}

// duration parses s as a positive duration such as 15s.
func (s *setting) duration() (time.Duration, error) {
	d, err := time.ParseDuration(s.Value)
	if err != nil || d <= 0 {
		return 0, s.invalid("must be a positive duration such as 15s or 1m")
	}
	return d, nil
}

// nonNegativeInt parses s as an integer >= 0.
func (s *setting) nonNegativeInt() (int, error) {
	n, err := strconv.Atoi(s.Value)
	if err != nil || n < 0 {
		return 0, s.invalid("must be a whole number, 0 or more")
	}
	return n, nil
}

// hostPort checks s is a listen address such as :8080 or 127.0.0.1:0.
func (s *setting) hostPort() (string, error) {
	if _, port, err := net.SplitHostPort(s.Value); err != nil || port == "" {
		return "", s.invalid("must be host:port, e.g. :8080 or 127.0.0.1:8080")
	}
	return s.Value, nil
}

// flags is one command's flag set. String settings fall back to their
// environment variable, then to their default.
type flags struct {
	fs       *flag.FlagSet
	cmd      string // e.g. "thermo tenant create"
	synopsis string // e.g. "<id> [flags]"
	about    string // paragraph shown under the usage line
	getenv   func(string) string
	settings []*setting
	raw      map[string]*string
}

func newFlags(cmd, synopsis, about string, getenv func(string) string) *flags {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported as one line by run
	fs.Usage = func() {}
	return &flags{fs: fs, cmd: cmd, synopsis: synopsis, about: about, getenv: getenv, raw: map[string]*string{}}
}

// setting registers the flag of the setting read from env.
func (f *flags) setting(env string) *setting {
	defs := settingDefs()
	i := slices.IndexFunc(defs, func(d settingDef) bool { return d.env == env })
	if i < 0 {
		panic("unknown setting " + env) // a typo in a command's code
	}
	s := &setting{settingDef: defs[i]}
	f.raw[s.flag] = f.fs.String(s.flag, "", s.usage)
	f.settings = append(f.settings, s)
	return s
}

// parse parses args and resolves every setting. Positional arguments may
// come before, between or after flags; parse returns them. --help returns
// flag.ErrHelp; a bad flag returns a usage error.
func (f *flags) parse(args []string) ([]string, error) {
	var pos []string
	for {
		if err := f.fs.Parse(args); errors.Is(err, flag.ErrHelp) {
			return nil, err
		} else if err != nil {
			return nil, usagef("%v (see %s --help)", err, f.cmd)
		}
		rest := f.fs.Args()
		if len(rest) < len(args) && args[len(args)-len(rest)-1] == "--" {
			pos = append(pos, rest...) // everything after -- is positional
			break
		}
		if len(rest) == 0 {
			break
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
	set := map[string]bool{}
	f.fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	for _, s := range f.settings {
		switch {
		case set[s.flag]:
			s.Value, s.from = *f.raw[s.flag], "--"+s.flag
		case f.getenv(s.env) != "":
			s.Value, s.from = f.getenv(s.env), s.env
		default:
			s.Value = s.def
		}
	}
	return pos, nil
}

// usage writes the command's help: synopsis, description and flags with
// their environment variables and defaults.
func (f *flags) usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: %s %s\n\n%s\n", f.cmd, f.synopsis, f.about)
	byFlag := map[string]*setting{}
	for _, s := range f.settings {
		byFlag[s.flag] = s
	}
	fmt.Fprintf(w, "\nFlags (a flag overrides its environment variable):\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	f.fs.VisitAll(func(fl *flag.Flag) {
		arg, usage := flag.UnquoteUsage(fl)
		var extra []string
		if s := byFlag[fl.Name]; s != nil {
			extra = append(extra, "$"+s.env)
			if def := cmp.Or(s.shownDef, s.def); def != "" {
				extra = append(extra, "default "+def)
			}
		} else if fl.DefValue != "" && fl.DefValue != "false" && fl.DefValue != "0" {
			extra = append(extra, "default "+fl.DefValue)
		}
		if len(extra) > 0 {
			usage += " [" + strings.Join(extra, ", ") + "]"
		}
		fmt.Fprintf(tw, "  --%s %s\t%s\n", fl.Name, arg, usage)
	})
	fmt.Fprintf(tw, "  --help\tshow this help\n")
	tw.Flush()
}
