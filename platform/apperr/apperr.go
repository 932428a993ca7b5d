// Package apperr is Parley's one error type: a machine-readable code, a
// human message and the HTTP status it maps to. Domain packages return these;
// transport layers render them.
package apperr

import (
	"errors"
	"fmt"
	"net/http"
)

// Kind classifies an error; each kind maps to exactly one HTTP status.
type Kind int

// The error kinds, one per status in ARCHITECTURE.md, Contract: Conventions.
const (
	KindInternal Kind = iota
	KindInvalid
	KindUnauthenticated
	KindForbidden
	KindNotFound
	KindConflict
	KindTooLarge
	KindValidation
	KindRateLimited
	KindUnavailable
)

var kindStatus = map[Kind]int{
	KindInternal:        http.StatusInternalServerError,
	KindInvalid:         http.StatusBadRequest,
	KindUnauthenticated: http.StatusUnauthorized,
	KindForbidden:       http.StatusForbidden,
	KindNotFound:        http.StatusNotFound,
	KindConflict:        http.StatusConflict,
	KindTooLarge:        http.StatusRequestEntityTooLarge,
	KindValidation:      http.StatusUnprocessableEntity,
	KindRateLimited:     http.StatusTooManyRequests,
	KindUnavailable:     http.StatusServiceUnavailable,
}

// Error is an error a client may see.
type Error struct {
	Kind    Kind
	Code    string // snake_case, stable
	Message string // human text, safe to show
	// RetryAfter is set on rate-limit errors, in whole seconds (>= 1).
	RetryAfter int
	// Err is an underlying cause, never shown to clients.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Status is the HTTP status of the error.
func (e *Error) Status() int { return kindStatus[e.Kind] }

// New builds an Error of the given kind.
func New(kind Kind, code, message string) *Error {
	return &Error{Kind: kind, Code: code, Message: message}
}

// Invalid is a 400: the request cannot be parsed.
func Invalid(code, message string) *Error { return New(KindInvalid, code, message) }

// Validation is a 422: the request parsed but a field is wrong.
func Validation(code, message string) *Error { return New(KindValidation, code, message) }

// Unauthenticated is a 401.
func Unauthenticated(code, message string) *Error { return New(KindUnauthenticated, code, message) }

// Forbidden is a 403.
func Forbidden(code, message string) *Error { return New(KindForbidden, code, message) }

// NotFound is a 404.
func NotFound(code, message string) *Error { return New(KindNotFound, code, message) }

// Conflict is a 409.
func Conflict(code, message string) *Error { return New(KindConflict, code, message) }

// TooLarge is a 413.
func TooLarge(code, message string) *Error { return New(KindTooLarge, code, message) }

// Unavailable is a 503: a dependency is down.
func Unavailable(code, message string, cause error) *Error {
	e := New(KindUnavailable, code, message)
	e.Err = cause
	return e
}

// RateLimited is a 429 with a Retry-After in seconds (at least 1).
func RateLimited(message string, retryAfterSeconds int) *Error {
	if retryAfterSeconds < 1 {
		retryAfterSeconds = 1
	}
	e := New(KindRateLimited, "rate_limited", message)
	e.RetryAfter = retryAfterSeconds
	return e
}

// From returns the *Error inside err, or an internal error wrapping err.
// The boolean is false for errors that are not client-facing (bugs, I/O):
// callers log those.
func From(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, e.Kind != KindInternal
	}
	return &Error{Kind: KindInternal, Code: "internal", Message: "internal error", Err: err}, false
}

// Body is the JSON error envelope of ARCHITECTURE.md, Contract: Conventions.
type Body struct {
	Error BodyError `json:"error"`
}

// BodyError is the inside of Body.
type BodyError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// ToBody renders an error for a client.
func ToBody(e *Error) Body {
	return Body{Error: BodyError{Code: e.Code, Message: e.Message}}
}
