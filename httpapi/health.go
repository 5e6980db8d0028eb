package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ReadyCheckTimeout bounds each readiness check.
const ReadyCheckTimeout = 2 * time.Second

// ReadyCheck is one dependency probed by /readyz. A failing Critical check
// (PostgreSQL) makes the instance unready (503); a failing non-critical one
// (Redis: the API keeps serving without its cache) is reported but not fatal.
type ReadyCheck struct {
	Name     string
	Critical bool
	Check    func(ctx context.Context) error
}

// Readiness is the body of /readyz.
type Readiness struct {
	// Status is "ok", "degraded" (a non-critical check failed) or
	// "unavailable" (a critical check failed).
	Status string `json:"status"`
	// Checks maps each check's name to "ok" or "error: <reason>".
	Checks map[string]string `json:"checks"`
}

// registerHealthRoutes adds the infrastructure endpoints. They are plain
// handlers and not part of the OpenAPI document, which describes the client
// API only.
func (s *Server) registerHealthRoutes() {
	s.handle("GET /healthz", http.HandlerFunc(s.handleHealthz))
	s.handle("GET /readyz", http.HandlerFunc(s.handleReadyz))
	s.handle("GET /metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}))
	s.openAPI = sync.OnceValues(func() ([]byte, error) { return json.Marshal(s.api.OpenAPI()) })
	s.handle("GET /openapi.json", http.HandlerFunc(s.handleOpenAPI))
}

// handleHealthz reports liveness: the process is serving.
func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, r, http.StatusOK, map[string]string{"status": "ok"})
}

// handleReadyz runs every check concurrently and reports each result.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	errs := make([]error, len(s.ready))
	var wg sync.WaitGroup
	for i, c := range s.ready {
		wg.Go(func() { errs[i] = runCheck(r.Context(), c) })
	}
	wg.Wait()

	body := Readiness{Status: "ok", Checks: make(map[string]string, len(s.ready))}
	status := http.StatusOK
	for i, c := range s.ready {
		if errs[i] == nil {
			body.Checks[c.Name] = "ok"
			continue
		}
		body.Checks[c.Name] = "error: " + truncate(errs[i].Error(), 200)
		s.logger.WarnContext(r.Context(), "readiness check failed",
			"check", c.Name, "critical", c.Critical, "error", errs[i].Error())
		if c.Critical {
			body.Status, status = "unavailable", http.StatusServiceUnavailable
		} else if body.Status == "ok" {
			body.Status = "degraded"
		}
	}
	s.writeJSON(w, r, status, body)
}

// runCheck runs c with ReadyCheckTimeout; a check that ignores its context
// is abandoned at the deadline rather than holding /readyz.
func runCheck(ctx context.Context, c ReadyCheck) error {
	ctx, cancel := context.WithTimeout(ctx, ReadyCheckTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				done <- fmt.Errorf("check panicked: %v", v)
			}
		}()
		done <- c.Check(ctx)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("timed out after %s: %w", ReadyCheckTimeout, ctx.Err())
	}
}

// handleOpenAPI serves the OpenAPI 3.1 document generated from the registered
// operations. It is marshalled once, on first request, after registration.
func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	b, err := s.openAPI()
	if err != nil {
		s.Error(w, r, fmt.Errorf("marshal openapi: %w", err))
		return
	}
	w.Header().Set("Content-Type", "application/openapi+json")
	_, _ = w.Write(b)
}

// writeJSON writes v as an uncached JSON response.
func (s *Server) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		s.logger.DebugContext(r.Context(), "write json", "error", err.Error())
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
