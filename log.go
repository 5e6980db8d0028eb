package thermo

import (
	"context"
	"log/slog"
)

// LogHandler wraps an slog.Handler so that every record logged with a context
// carries that context's request id, tenant and subject.
type LogHandler struct {
	slog.Handler
}

// NewLogHandler returns h wrapped in a LogHandler.
func NewLogHandler(h slog.Handler) *LogHandler { return &LogHandler{Handler: h} }

// Handle adds the request-scoped attributes from ctx, then delegates.
func (h *LogHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestIDFromContext(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	if t := TenantFromContext(ctx); t != "" {
		r.AddAttrs(slog.String("tenant", t))
	}
	if id := JobIDFromContext(ctx); id != 0 {
		r.AddAttrs(slog.Int64("job_id", id))
	}
	if p, ok := PrincipalFromContext(ctx); ok {
		r.AddAttrs(slog.String("sub", p.Subject))
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs keeps the wrapper around the derived handler.
func (h *LogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &LogHandler{Handler: h.Handler.WithAttrs(attrs)}
}

// WithGroup keeps the wrapper around the derived handler.
func (h *LogHandler) WithGroup(name string) slog.Handler {
	return &LogHandler{Handler: h.Handler.WithGroup(name)}
}
