package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"time"

	"github.com/thermo/thermo"
	"github.com/thermo/thermo/auth"
	"github.com/thermo/thermo/httpapi"
	"github.com/thermo/thermo/postgres"
	"github.com/thermo/thermo/redis"
	"github.com/thermo/thermo/web"
)

const serveAbout = `Serve the JSON API under /v1, the live stream (/v1/live, /v1/ws), the
web dashboard at /, plus /healthz, /readyz, /metrics and /openapi.json.
Tokens are verified against the OIDC issuer (OIDC_ISSUER_URL); with --dev,
tokens minted by "thermo token" (or POST /dev/token) are accepted too. Either
is required. The dashboard signs in through the issuer when
DASHBOARD_CLIENT_ID is set (a public client), else takes a pasted token.
On SIGINT or SIGTERM the server stops accepting connections, ends live
streams, drains in-flight requests for up to SHUTDOWN_TIMEOUT and exits 0.

Start-up migrates the control plane; run "thermo migrate" to migrate every
tenant schema. Redis may be down: the API keeps serving and /readyz reports it.`

// serveConfig is the validated configuration of thermo serve.
type serveConfig struct {
	dev      bool
	addr     string
	shutdown time.Duration
	redisURL *setting
	lockURLs *setting
	noWorker bool
	db       postgres.Opts
	oidc     auth.OIDCOpts // IssuerURL is "" when no OIDC issuer is configured
	devKey   string        // "" without --dev
	// dashClient is the dashboard's OIDC client id ("": paste a token).
	dashClient string
	logger     *slog.Logger
}

func runServe(ctx context.Context, c *cli, args []string) error {
	cfg, err := parseServe(c, args)
	if err != nil {
		return err
	}
	return cfg.serve(ctx)
}

// parseServe reads and checks every setting before anything is opened, so
// a bad one stops start-up with a single line.
func parseServe(c *cli, args []string) (cfg serveConfig, err error) {
	f := newFlags("thermo serve", "[flags]", serveAbout, c.getenv)
	dev := f.fs.Bool("dev", false, "accept development tokens from thermo token (never in production)")
	addr, shutdown := f.setting(envHTTPAddr), f.setting(envShutdownTimeout)
	issuer, audience, claim := f.setting(envOIDCIssuer), f.setting(envOIDCAudience), f.setting(envTenantClaim)
	devKey, redisURL := f.setting(envDevKey), f.setting(envRedisURL)
	lockURLs, dashClient := f.setting(envRedisLockURLs), f.setting(envDashboardClient)
	noWorker := f.fs.Bool("no-worker", false, "serve HTTP only; leave background jobs to thermo worker")
	dbs, logs := addServeDBSettings(f), addLogSettings(f)
	pos, err := c.parseFlags(f, args)
	switch {
	case err != nil:
		return cfg, err
	case len(pos) > 0:
		return cfg, usagef("unexpected argument %q (see thermo serve --help)", pos[0])
	case !*dev && issuer.Value == "":
		return cfg, usagef("%s is not set: set it to your Keycloak realm URL, or pass --dev for local development", envOIDCIssuer)
	case issuer.Value != "" && !isHTTPURL(issuer.Value):
		return cfg, issuer.invalid("must be an http(s) URL such as https://keycloak.example.com/realms/thermo")
	case issuer.Value != "" && audience.Value == "":
		return cfg, audience.invalid("must be set to the API's client id when OIDC_ISSUER_URL is set")
	case claim.Value == "":
		return cfg, claim.invalid("must name the token claim holding the tenant id")
	}
	cfg = serveConfig{dev: *dev, redisURL: redisURL, lockURLs: lockURLs, noWorker: *noWorker, dashClient: dashClient.Value, oidc: auth.OIDCOpts{
		IssuerURL: issuer.Value, Audience: audience.Value, TenantClaim: claim.Value,
	}}
	if cfg.addr, err = addr.hostPort(); err != nil {
		return cfg, err
	}
	if cfg.shutdown, err = shutdown.duration(); err != nil {
		return cfg, err
	}
	if cfg.logger, err = logs.logger(c.stderr); err != nil {
		return cfg, err
	}
	if cfg.db, err = dbs.opts(cfg.logger); err != nil {
		return cfg, err
	}
	if cfg.dev {
		if cfg.devKey, err = devKeyPath(devKey); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

// serve opens the dependencies, serves until ctx is cancelled (SIGTERM),
// drains and closes the pools.
func (cfg serveConfig) serve(ctx context.Context) error {
	redis.SetLogger(cfg.logger)
	rc, err := redis.Open(ctx, cfg.redisURL.Value) // fails only on a malformed URL
	if err != nil {
		return cfg.redisURL.invalid(err.Error())
	}
	defer rc.Close()
	live := redis.NewLive(rc, cfg.logger)
	defer live.Close()
	verifier, err := cfg.verifier(ctx)
	if err != nil {
		return err
	}
	db, err := openDB(ctx, cfg.db)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := rc.Ping(ctx); err != nil {
		cfg.logger.WarnContext(ctx, "redis is unreachable; serving without it", "error", err.Error())
	}
	reg, err := newRegistry(db.PoolStats)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	readings, alerts := postgres.NewReadingService(db), postgres.NewAlertService(db)
	stats, err := newStatsWiring(ctx, db, cfg.redisURL, cfg.lockURLs, cfg.logger, reg)
	if err != nil {
		return err
	}
	defer stats.close()
	readings.AfterIngest = append(readings.AfterIngest, stats.pg.MarkLateReadings)
	jc, err := startJobs(ctx, cfg.logger, db, readings, alerts, stats.deps(db, cfg.logger), !cfg.noWorker)
	if err != nil {
		return err
	}
	defer stopJobs(ctx, cfg.logger, jc, cfg.shutdown)
	devToken, err := cfg.devTokenFunc()
	if err != nil {
		return err
	}
	srv := httpapi.NewServer(httpapi.ServerOpts{
		Logger:   cfg.logger,
		Verifier: verifier,
		Tenants:  postgres.NewTenantService(db),
		Users:    postgres.NewUserService(db),
		Devices:  postgres.NewDeviceService(db),
		Readings: readings,
		Alerts:   alerts,
		Webhooks: alerts,
		Stats:    stats.service,
		// Live events are published by this instance and fanned out by Redis.
		Live:         live,
		LiveSettings: postgres.NewLiveSettingsService(db),
		Dashboard:    web.Handler(web.Config{OIDCIssuer: cfg.oidc.IssuerURL, OIDCClientID: cfg.dashClient}),
		DevTokenFunc: devToken,
		Ready: []httpapi.ReadyCheck{
			{Name: "postgres", Critical: true, Check: db.Ping},
			{Name: "redis", Critical: false, Check: rc.Ping},
		},
		Registry:        reg,
		Version:         buildVersion(),
		ShutdownTimeout: cfg.shutdown,
	})
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w; set HTTP_ADDR to a free address", cfg.addr, err)
	}
	if cfg.dev {
		cfg.logger.WarnContext(ctx, "DEV MODE: accepting development tokens minted by `thermo token` "+
			"(anyone with the key can act as any tenant); never use --dev in production",
			"issuer", auth.DevIssuerName, "key", cfg.devKey)
	}
	// addr is the bound address, so a :0 port is discoverable from the log.
	cfg.logger.InfoContext(ctx, "thermo serving", "addr", ln.Addr().String(), "dev", cfg.dev,
		"replica", db.HasReplica(), "oidc_issuer", cfg.oidc.IssuerURL, "version", buildVersion())
	if err := srv.Serve(ctx, ln); err != nil {
		return err
	}
	cfg.logger.InfoContext(ctx, "thermo stopped")
	return nil
}

// verifier returns the token verifier: the OIDC issuer if configured, plus
// the dev issuer with --dev.
func (cfg serveConfig) verifier(ctx context.Context) (thermo.TokenVerifier, error) {
	byIssuer := map[string]thermo.TokenVerifier{}
	if cfg.oidc.IssuerURL != "" {
		opts := cfg.oidc
		opts.Logger = cfg.logger
		oidc, err := auth.NewOIDC(ctx, opts)
		if err != nil {
			return nil, err
		}
		byIssuer[oidc.Issuer()] = oidc
	}
	if cfg.dev {
		dev, err := auth.LoadDevIssuer(cfg.devKey)
		if err != nil {
			return nil, err
		}
		dev.TenantClaim = cfg.oidc.TenantClaim
		byIssuer[auth.DevIssuerName] = dev
	}
	// Devices repeat one token for many posts: verify each signature once.
	return auth.NewCache(auth.NewMulti(byIssuer), tokenCacheSize, time.Minute), nil
}

// devTokenFunc mints dashboard tokens at POST /dev/token; nil without --dev.
func (cfg serveConfig) devTokenFunc() (func(tenant, subject string) (string, error), error) {
	if !cfg.dev {
		return nil, nil
	}
	dev, err := auth.LoadDevIssuer(cfg.devKey)
	if err != nil {
		return nil, err
	}
	dev.TenantClaim = cfg.oidc.TenantClaim
	return func(tenant, subject string) (string, error) { return dev.Mint(tenant, subject, devTokenTTL) }, nil
}

// devTokenTTL is the lifetime of a token minted for the dashboard.
const devTokenTTL = 12 * time.Hour

// tokenCacheSize bounds the verified-token cache (~200 bytes an entry).
const tokenCacheSize = 100_000

// devKeyPath returns the dev signing key file: THERMO_DEV_KEY or --dev-key
// if set, else the default under the user's configuration directory.
func devKeyPath(s *setting) (string, error) {
	if s.Value != "" {
		return s.Value, nil
	}
	return auth.DefaultDevKeyPath()
}

// isHTTPURL reports whether s is an absolute http or https URL.
func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
