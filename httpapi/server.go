// Package httpapi serves Thermo's JSON API over net/http: operations under
// /v1 are registered with huma (which generates /openapi.json from them),
// infrastructure endpoints (/healthz, /readyz, /metrics) are plain handlers.
// Every error is an RFC 9457 problem; every response carries X-Request-Id.
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/thermo/thermo"
)

// DefaultMaxBodyBytes limits request bodies of plain handlers; it equals
// huma's default per-operation MaxBodyBytes, so both paths answer 413 alike.
const DefaultMaxBodyBytes = 1 << 20

// DefaultShutdownTimeout bounds the drain of in-flight requests.
const DefaultShutdownTimeout = 15 * time.Second

// ServerOpts configures a Server.
type ServerOpts struct {
	Logger   *slog.Logger
	Verifier thermo.TokenVerifier // required
	Tenants  thermo.TenantService // required
	// Users, Devices and Readings serve their resources' routes; a nil
	// service leaves its routes (and their OpenAPI entries) out.
	Users    thermo.UserService
	Devices  thermo.DeviceService
	Readings thermo.ReadingService
	// Alerts serves alert rules and alerts; Webhooks the tenant's webhook.
	Alerts   thermo.AlertService
	Webhooks thermo.WebhookService
	// Stats serves daily and weekly statistics; nil leaves their routes out.
	Stats thermo.StatsService
	// Live fans events out to live clients (/v1/live, /v1/ws) across
	// instances; nil disables the live stream and publishing.
	Live thermo.LiveBroker
	// LiveSettings holds each tenant's session policy (single session when nil).
	LiveSettings thermo.LiveSettingsService
	// Dashboard, if set, serves the web dashboard at / (web.Handler).
	Dashboard http.Handler
	// DevTokenFunc, if set (--dev only), mints a token at POST /dev/token.
	DevTokenFunc func(tenant, subject string) (string, error)
	// Ready lists the readiness checks run by /readyz.
	Ready []ReadyCheck
	// Registry receives the HTTP metrics and is served at /metrics. A new
	// registry is used when nil.
	Registry *prometheus.Registry
	// Version is the API version in the OpenAPI document.
	Version string
	// ShutdownTimeout bounds the drain in Serve; DefaultShutdownTimeout if 0.
	ShutdownTimeout time.Duration
}

// Server is Thermo's HTTP API. Resource files register their operations on
// API() from NewServer; Handler() serves them.
type Server struct {
	logger          *slog.Logger
	verifier        thermo.TokenVerifier
	tenants         thermo.TenantService
	users           thermo.UserService
	devices         thermo.DeviceService
	readings        thermo.ReadingService
	alerts          thermo.AlertService
	webhooks        thermo.WebhookService
	stats           thermo.StatsService
	live            thermo.LiveBroker
	liveSettings    thermo.LiveSettingsService
	streams         context.Context // cancelled by CloseStreams
	stopStreams     context.CancelFunc
	liveMetrics     *liveMetrics
	ready           []ReadyCheck
	registry        *prometheus.Registry
	shutdownTimeout time.Duration

	mux     *http.ServeMux
	api     huma.API
	metrics *httpMetrics
	handler http.Handler
	openAPI func() ([]byte, error)
}

// NewServer builds a Server with all its routes. It panics when a required
// option is missing: that is a wiring bug.
func NewServer(opts ServerOpts) *Server {
	if opts.Verifier == nil || opts.Tenants == nil {
		panic("httpapi: ServerOpts.Verifier and ServerOpts.Tenants are required")
	}
	installHumaHooks()
	s := &Server{
		logger:          opts.Logger,
		verifier:        opts.Verifier,
		tenants:         opts.Tenants,
		users:           opts.Users,
		devices:         opts.Devices,
		readings:        opts.Readings,
		stats:           opts.Stats,
		alerts:          opts.Alerts,
		webhooks:        opts.Webhooks,
		live:            opts.Live,
		liveSettings:    opts.LiveSettings,
		ready:           opts.Ready,
		registry:        opts.Registry,
		shutdownTimeout: opts.ShutdownTimeout,
		mux:             http.NewServeMux(),
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	if s.registry == nil {
		s.registry = prometheus.NewRegistry()
	}
	if s.shutdownTimeout <= 0 {
		s.shutdownTimeout = DefaultShutdownTimeout
	}
	s.streams, s.stopStreams = context.WithCancel(context.Background())
	s.metrics = newHTTPMetrics(s.registry)
	s.liveMetrics = newLiveMetrics(s.registry)
	s.api = humago.New(s.mux, s.humaConfig(opts.Version))
	s.api.UseMiddleware(s.authenticate)

	s.registerHealthRoutes()
	s.registerTenantRoutes()
	s.registerUserRoutes()
	s.registerDeviceRoutes()
	s.registerReadingRoutes()
	s.registerStatsRoutes()
	s.registerAlertRoutes()
	s.registerWebhookRoutes()
	s.registerLiveRoutes()
	s.registerDashboard(opts.Dashboard, opts.DevTokenFunc)

	s.handler = withRequestID(s.observe(s.recoverPanics(http.HandlerFunc(s.route))))
	return s
}

// humaConfig is huma.DefaultConfig without its extras: no docs UI, no
// /schemas, no "$schema" link transformer (it would add a field to every
// response body), and /openapi.json served by health.go.
func (s *Server) humaConfig(version string) huma.Config {
	if version == "" {
		version = "dev"
	}
	registry := huma.NewMapRegistry("#/components/schemas/", huma.DefaultSchemaNamer)
	return huma.Config{
		OpenAPI: &huma.OpenAPI{
			OpenAPI: "3.1.0",
			Info:    &huma.Info{Title: "Thermo API", Version: version},
			Components: &huma.Components{
				Schemas:         registry,
				SecuritySchemes: securitySchemes(),
			},
			OnAddOperation: []huma.AddOpFunc{requireBearer},
		},
		Formats: map[string]huma.Format{
			"application/json": huma.DefaultJSONFormat,
			"json":             huma.DefaultJSONFormat,
		},
		DefaultFormat: "application/json",
		Transformers:  []huma.Transformer{s.transformProblem},
	}
}

// Handler returns the server's root handler, middleware included.
func (s *Server) Handler() http.Handler { return s.handler }

// API returns the huma API on which operations are registered.
func (s *Server) API() huma.API { return s.api }

// handle registers a plain net/http handler; its request body is limited to
// DefaultMaxBodyBytes (reads past it fail with *http.MaxBytesError, which
// Error maps to 413).
func (s *Server) handle(pattern string, h http.Handler) {
	s.mux.Handle(pattern, http.MaxBytesHandler(h, DefaultMaxBodyBytes))
}

// route dispatches to the mux, answering the mux's own 404 and 405 (plain
// text by default) with problems.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	h, pattern := s.mux.Handler(r)
	if pattern != "" {
		s.mux.ServeHTTP(w, r)
		return
	}
	rec := &headerRecorder{header: http.Header{}}
	h.ServeHTTP(rec, r)
	if rec.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", rec.header.Get("Allow"))
		s.writeProblem(w, r, newProblem(http.StatusMethodNotAllowed,
			fmt.Sprintf("Method %s is not allowed here.", methodLabel(r.Method))))
		return
	}
	s.writeProblem(w, r, newProblem(http.StatusNotFound, "No route matches the request path."))
}

// headerRecorder captures what the mux's fallback handlers would write.
type headerRecorder struct {
	header http.Header
	status int
}

func (r *headerRecorder) Header() http.Header         { return r.header }
func (r *headerRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *headerRecorder) WriteHeader(code int)        { r.status = code }

// Serve serves HTTP on ln until ctx is cancelled, then shuts down gracefully:
// it stops accepting, waits up to ShutdownTimeout for in-flight requests and
// returns nil when they all finished. Request contexts do not inherit ctx's
// cancellation, so in-flight work is drained rather than aborted.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	srv.RegisterOnShutdown(s.CloseStreams)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	select {
	case err := <-errc:
		return fmt.Errorf("httpapi: serve: %w", err)
	case <-ctx.Done():
	}

	s.logger.InfoContext(ctx, "http server shutting down", "timeout", s.shutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.shutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	if err != nil {
		_ = srv.Close()
		return fmt.Errorf("httpapi: shutdown: %w", err)
	}
	s.logger.InfoContext(ctx, "http server drained")
	return nil
}
