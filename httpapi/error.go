package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/thermo/thermo"
)

// problemContentType is the media type of every error body (RFC 9457).
const problemContentType = "application/problem+json"

// internalDetail is all a client learns about an internal error.
const internalDetail = "Internal error."

// Problem is an RFC 9457 problem details body. Every error response has this
// shape, whether a handler, the auth middleware or huma itself produced it.
type Problem struct {
	Type      string         `json:"type" doc:"Problem type URI; about:blank means the title is the HTTP status text."`
	Title     string         `json:"title" doc:"HTTP status text."`
	Status    int            `json:"status" doc:"HTTP status code."`
	Detail    string         `json:"detail" doc:"Human-readable explanation of this occurrence."`
	Code      string         `json:"code" doc:"Stable machine-readable code, e.g. invalid, not_found, unauthorized, internal."`
	RequestID string         `json:"requestId,omitempty" doc:"The X-Request-Id of the request."`
	Errors    []ProblemField `json:"errors,omitempty" doc:"Per-field problems of a rejected input."`
	// CurrentVersion is the resource's version when a stale If-Match was
	// rejected (412).
	CurrentVersion *int64 `json:"currentVersion,omitempty" doc:"On 412: the current version to retry with."`

	// cause is logged with the request id and never sent.
	cause error
}

// ProblemField names one bad input field. Location is where the field was
// read from (body, query, path, header) when known.
type ProblemField struct {
	Field    string `json:"field" doc:"Field name, e.g. temperatureCelsius or items[2].name."`
	Reason   string `json:"reason"`
	Location string `json:"location,omitempty" enum:"body,path,query,header,cookie"`
}

func (p *Problem) Error() string { return p.Detail }

// GetStatus makes a Problem a huma.StatusError.
func (p *Problem) GetStatus() int { return p.Status }

// ContentType makes huma send problems as application/problem+json.
func (p *Problem) ContentType(ct string) string {
	if ct == "application/json" {
		return problemContentType
	}
	return ct
}

// statusForCode is the one mapping from thermo error codes to HTTP statuses.
// Unknown codes are internal errors.
func statusForCode(code string) int {
	switch code {
	case thermo.EINVALID:
		return http.StatusUnprocessableEntity
	case thermo.ENOTFOUND:
		return http.StatusNotFound
	case thermo.ECONFLICT:
		return http.StatusConflict
	case thermo.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case thermo.EFORBIDDEN:
		return http.StatusForbidden
	case thermo.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case thermo.EPRECONDITION:
		return http.StatusPreconditionFailed
	case thermo.EPRECONDREQ:
		return http.StatusPreconditionRequired
	case thermo.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	case thermo.ENOTIMPLEMENTED:
		return http.StatusNotImplemented
	default:
		return http.StatusInternalServerError
	}
}

// codeForStatus gives errors that did not start as a *thermo.Error (huma's
// own, the mux's 404/405) a stable code: the thermo code for the status, or
// the snake_cased status text (method_not_allowed, unsupported_media_type).
func codeForStatus(status int) string {
	switch status {
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return thermo.EINVALID
	case http.StatusNotFound:
		return thermo.ENOTFOUND
	case http.StatusConflict:
		return thermo.ECONFLICT
	case http.StatusUnauthorized:
		return thermo.EUNAUTHORIZED
	case http.StatusForbidden:
		return thermo.EFORBIDDEN
	case http.StatusRequestEntityTooLarge:
		return thermo.ETOOLARGE
	case http.StatusPreconditionFailed:
		return thermo.EPRECONDITION
	case http.StatusPreconditionRequired:
		return thermo.EPRECONDREQ
	case http.StatusServiceUnavailable:
		return thermo.EUNAVAILABLE
	case http.StatusNotImplemented:
		return thermo.ENOTIMPLEMENTED
	case http.StatusInternalServerError:
		return thermo.EINTERNAL
	}
	text := http.StatusText(status)
	if text == "" {
		return ""
	}
	return strings.ToLower(strings.NewReplacer(" ", "_", "-", "_", "'", "").Replace(text))
}

// newProblem returns a problem for status with its default code.
func newProblem(status int, detail string) *Problem {
	return &Problem{
		Type:   "about:blank",
		Title:  http.StatusText(status),
		Status: status,
		Detail: detail,
		Code:   codeForStatus(status),
	}
}

// problemFromError converts any error into a problem. A *thermo.Error anywhere
// in err's chain maps by its code; anything else is internal, and err becomes
// the logged cause.
func problemFromError(err error) *Problem {
	var (
		p   *Problem
		te  *thermo.Error
		mbe *http.MaxBytesError
	)
	switch {
	case errors.As(err, &p):
		return p
	case errors.As(err, &mbe):
		return newProblem(http.StatusRequestEntityTooLarge,
			fmt.Sprintf("The request body exceeds %d bytes.", mbe.Limit))
	case errors.As(err, &te) && statusForCode(te.Code) != http.StatusInternalServerError:
		p = newProblem(statusForCode(te.Code), te.Message)
		p.Code = te.Code
		for _, f := range te.Fields {
			p.Errors = append(p.Errors, ProblemField{Field: f.Field, Reason: f.Reason})
		}
		return p
	default:
		p = newProblem(http.StatusInternalServerError, internalDetail)
		p.cause = err
		return p
	}
}

// newHumaError replaces huma.NewError so that errors huma builds itself
// (validation 422, malformed body 400, 413, 415, 406) and errors returned by
// operation handlers become a *Problem. A handler error that is not a
// huma.StatusError reaches here as (500, "unexpected error occurred", err).
func newHumaError(status int, msg string, errs ...error) huma.StatusError {
	if len(errs) == 1 && errs[0] != nil {
		var te *thermo.Error
		var mbe *http.MaxBytesError
		if errors.As(errs[0], &te) || errors.As(errs[0], &mbe) {
			return problemFromError(errs[0])
		}
	}
	if status == http.StatusInternalServerError {
		p := newProblem(status, internalDetail)
		if msg != "" {
			errs = append([]error{errors.New(msg)}, errs...)
		}
		p.cause = errors.Join(errs...)
		return p
	}
	p := newProblem(status, msg)
	if status >= 500 {
		p.cause = errors.Join(errs...)
		return p
	}
	for _, err := range errs {
		if err != nil {
			p.Errors = append(p.Errors, fieldsFromError(err)...)
		}
	}
	return p
}

// fieldsFromError turns a huma error detail ("body.items[2].name") or a
// *thermo.Error's fields into problem fields. Echoed values are dropped.
func fieldsFromError(err error) []ProblemField {
	var d huma.ErrorDetailer
	var te *thermo.Error
	switch {
	case errors.As(err, &d):
		det := d.ErrorDetail()
		loc, field := splitLocation(det.Location)
		// huma reports a missing property at its parent's location; name it.
		if m := missingProperty.FindStringSubmatch(det.Message); m != nil {
			field = strings.TrimPrefix(field+"."+m[1], ".")
		}
		return []ProblemField{{Field: field, Reason: det.Message, Location: loc}}
	case errors.As(err, &te) && len(te.Fields) > 0:
		fields := make([]ProblemField, 0, len(te.Fields))
		for _, f := range te.Fields {
			fields = append(fields, ProblemField{Field: f.Field, Reason: f.Reason})
		}
		return fields
	default:
		return []ProblemField{{Reason: err.Error()}} // a 4xx cause: client-facing
	}
}

// missingProperty matches huma's message for an absent required property.
var missingProperty = regexp.MustCompile(`required property (\S+) to be present`)

// splitLocation splits huma's "body.temperatureCelsius" into its location
// ("body") and the field path ("temperatureCelsius").
func splitLocation(s string) (loc, field string) {
	head, rest, _ := strings.Cut(s, ".")
	switch head {
	case "body", "path", "query", "header", "cookie":
		return head, rest
	}
	return "", s
}

// installHumaHooks sets huma's two package-level knobs exactly once:
//   - huma.NewError, the only hook through which huma builds the errors it
//     writes (and the type it documents in OpenAPI); it is global in huma.
//     The hook is a pure function: per-request data (request id, logging)
//     is added by each Server's transformer, so servers do not interfere.
//   - huma.ValidateStrictCasing: otherwise huma accepts "TEMPERATURECELSIUS"
//     as a known field and validates only the exact-case twin of a
//     duplicated key, while encoding/json decodes the last one; strict
//     casing rejects such keys as unknown fields.
var installHumaHooks = sync.OnceFunc(func() {
	huma.NewError = newHumaError
	huma.ValidateStrictCasing = true
})

// transformProblem is the huma transformer that finishes every problem huma
// is about to write: request id, WWW-Authenticate, logging of the cause.
func (s *Server) transformProblem(ctx huma.Context, _ string, v any) (any, error) {
	p, ok := v.(*Problem)
	if !ok {
		return v, nil
	}
	_, w := humago.Unwrap(ctx)
	return s.finishProblem(ctx.Context(), w.Header(), p), nil
}

// finishProblem returns a copy of p (problems may be shared values) stamped
// with the request id, sets problem headers (no-store, WWW-Authenticate on
// 401) and logs an internal cause.
func (s *Server) finishProblem(ctx context.Context, h http.Header, p *Problem) *Problem {
	cp := *p
	cp.RequestID = thermo.RequestIDFromContext(ctx)
	cp.cause = nil
	h.Set("Cache-Control", "no-store")
	if cp.Status == http.StatusUnauthorized && h.Get("WWW-Authenticate") == "" {
		h.Set("WWW-Authenticate", `Bearer realm="thermo"`)
	}
	if p.cause != nil {
		s.logger.ErrorContext(ctx, "internal error", "status", p.Status, "error", p.cause.Error())
	}
	return &cp
}

// Error writes err as a problem+json response. It is the error path for
// plain net/http handlers; a *thermo.Error (wrapped or not) maps by its
// code, anything else is logged and sent as "Internal error.".
func (s *Server) Error(w http.ResponseWriter, r *http.Request, err error) {
	s.writeProblem(w, r, problemFromError(err))
}

// writeProblem finishes p and writes it.
func (s *Server) writeProblem(w http.ResponseWriter, r *http.Request, p *Problem) {
	p = s.finishProblem(r.Context(), w.Header(), p)
	w.Header().Set("Content-Type", problemContentType)
	w.WriteHeader(p.Status)
	if err := json.NewEncoder(w).Encode(p); err != nil {
		s.logger.DebugContext(r.Context(), "write problem", "error", err.Error())
	}
}
