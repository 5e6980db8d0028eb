package httpapi

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/thermo/thermo"
)

// HeaderRequestID carries the request id in both directions.
const HeaderRequestID = "X-Request-Id"

// maxRequestIDLen bounds an accepted client request id.
const maxRequestIDLen = 128

// validRequestID reports whether a client-supplied id is safe to log and echo:
// 1–128 characters of [A-Za-z0-9._:-].
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

// newRequestID mints a UUIDv7 (time-ordered, so logs sort by it).
func newRequestID() string {
	if id, err := uuid.NewV7(); err == nil {
		return id.String()
	}
	return uuid.NewString()
}

// withRequestID accepts a well-formed X-Request-Id or mints one, puts it in
// the request context and sets it on the response before anything is written.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(HeaderRequestID)
		if !validRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set(HeaderRequestID, id)
		next.ServeHTTP(w, r.WithContext(thermo.WithRequestID(r.Context(), id)))
	})
}

// requestInfo is filled in while a request is served and read by the access
// log: the auth middleware runs inside huma with its own derived context, so
// the principal would otherwise not reach the outer log line.
type requestInfo struct {
	mu        sync.Mutex
	principal *thermo.Principal
}

type requestInfoKey struct{}

// setPrincipal records the authenticated caller of the request in ctx.
func setPrincipal(ctx context.Context, p thermo.Principal) {
	if info, ok := ctx.Value(requestInfoKey{}).(*requestInfo); ok {
		info.mu.Lock()
		info.principal = &p
		info.mu.Unlock()
	}
}

// logContext returns r's context plus the principal, once authenticated.
func logContext(r *http.Request) context.Context {
	ctx := r.Context()
	if info, ok := ctx.Value(requestInfoKey{}).(*requestInfo); ok {
		info.mu.Lock()
		defer info.mu.Unlock()
		if info.principal != nil {
			return thermo.WithPrincipal(ctx, *info.principal)
		}
	}
	return ctx
}

// observe records query stats, metrics and one access log line per request.
// Nothing between observe and the mux may replace the *http.Request: the mux
// sets r.Pattern on the request it is given, and observe reads it afterwards.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx, stats := thermo.WithQueryStats(r.Context())
		ctx = context.WithValue(ctx, requestInfoKey{}, &requestInfo{})
		r = r.WithContext(ctx)
		rw := &responseWriter{ResponseWriter: w}
		defer func() {
			elapsed := time.Since(start)
			route := routeLabel(r.Pattern)
			method := methodLabel(r.Method)
			status := rw.statusCode()
			s.metrics.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
			s.metrics.duration.WithLabelValues(route, method).Observe(elapsed.Seconds())
			s.logger.LogAttrs(logContext(r), slog.LevelInfo, "http request",
				slog.String("method", r.Method),
				slog.String("route", route),
				slog.String("path", r.URL.Path),
				slog.Int("status", status),
				slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
				slog.Int64("bytes", rw.bytes),
				slog.Int("db_queries", stats.Total()),
			)
		}()
		next.ServeHTTP(rw, r)
	})
}

// recoverPanics turns a handler panic into a 500 problem carrying the request
// id; the panic value and stack go to the log only. If the response had
// already started, the connection is aborted instead.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.logger.ErrorContext(logContext(r), "panic serving request",
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if rw, ok := w.(*responseWriter); ok && rw.wroteHeader {
				panic(http.ErrAbortHandler)
			}
			h := w.Header()
			for k := range h {
				if k != HeaderRequestID {
					delete(h, k)
				}
			}
			s.writeProblem(w, r, newProblem(http.StatusInternalServerError, internalDetail))
		}()
		next.ServeHTTP(w, r)
	})
}

// routeLabel is the path part of a mux pattern ("GET /v1/tenant" →
// "/v1/tenant"); requests no pattern matched share one label.
func routeLabel(pattern string) string {
	if pattern == "" {
		return "unmatched"
	}
	if i := strings.IndexByte(pattern, ' '); i >= 0 {
		return strings.TrimLeft(pattern[i+1:], " \t")
	}
	return pattern
}

// methodLabel bounds the method label: clients can send any token.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "OTHER"
}

// responseWriter records the status and size of a response.
type responseWriter struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
}

func (w *responseWriter) WriteHeader(code int) {
	if !w.wroteHeader && code >= 200 {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *responseWriter) statusCode() int {
	if !w.wroteHeader {
		return http.StatusOK
	}
	return w.status
}

// Unwrap lets http.ResponseController (and huma's read deadlines) reach the
// underlying writer.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush supports streaming responses (SSE).
func (w *responseWriter) Flush() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack supports WebSocket libraries that type-assert http.Hijacker.
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.status, w.wroteHeader = http.StatusSwitchingProtocols, true
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// httpMetrics are the per-request Prometheus metrics, labelled by route
// pattern (never the raw path) to bound cardinality.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	return &httpMetrics{
		requests: registerCollector(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "thermo_http_requests_total",
			Help: "HTTP requests served, by route pattern, method and status.",
		}, []string{"route", "method", "status"})),
		duration: registerCollector(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "thermo_http_request_duration_seconds",
			Help:    "HTTP request latency, by route pattern and method.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "method"})),
	}
}

// registerCollector registers c, or returns the identical collector already
// registered (two servers sharing one registry).
func registerCollector[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	panic(fmt.Sprintf("httpapi: register metrics: %v", err))
}
