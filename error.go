package thermo

import (
	"errors"
	"fmt"
)

// Error codes. They are stable: clients may switch on them, and httpapi maps
// each to one HTTP status.
const (
	ECONFLICT       = "conflict"
	EINTERNAL       = "internal"
	EINVALID        = "invalid"
	ENOTFOUND       = "not_found"
	ENOTIMPLEMENTED = "not_implemented"
	EUNAUTHORIZED   = "unauthorized"
	EFORBIDDEN      = "forbidden"
	ETOOLARGE       = "too_large"
	EPRECONDITION   = "precondition_failed"
	EPRECONDREQ     = "precondition_required"
	EUNAVAILABLE    = "unavailable"
)

// Error is an application error: a code for machines and a message that is
// safe to show to the client. Anything else (wrapped causes, SQL) is internal.
type Error struct {
	Code    string
	Message string
	// Fields lists per-field problems of a rejected input, if any.
	Fields []FieldError
}

// FieldError names one bad input field and why it was rejected.
type FieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s (%s)", e.Message, e.Code)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for
// any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the client-safe message of err: the message of its
// *Error, or a generic text for internal errors.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}

// InvalidFields returns an EINVALID error listing each bad field.
func InvalidFields(fields ...FieldError) *Error {
	msg := "The request has invalid fields."
	if len(fields) == 1 {
		msg = fmt.Sprintf("%s: %s", fields[0].Field, fields[0].Reason)
	}
	return &Error{Code: EINVALID, Message: msg, Fields: fields}
}
