package apperr

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
)

func TestStatusTable(t *testing.T) {
	tests := []struct {
		err  *Error
		want int
	}{
		{Invalid("invalid_json", "x"), http.StatusBadRequest},
		{Validation("invalid_field", "x"), http.StatusUnprocessableEntity},
		{Unauthenticated("invalid_token", "x"), http.StatusUnauthorized},
		{Forbidden("forbidden", "x"), http.StatusForbidden},
		{NotFound("not_found", "x"), http.StatusNotFound},
		{Conflict("conflict", "x"), http.StatusConflict},
		{TooLarge("too_large", "x"), http.StatusRequestEntityTooLarge},
		{RateLimited("slow down", 0), http.StatusTooManyRequests},
		{Unavailable("down", "x", nil), http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		if got := tt.err.Status(); got != tt.want {
			t.Errorf("%s: status %d, want %d", tt.err.Code, got, tt.want)
		}
	}
}

func TestFromWrapped(t *testing.T) {
	base := NotFound("room_not_found", "room not found")
	e, ok := From(fmt.Errorf("get room: %w", base))
	if !ok || e != base {
		t.Fatalf("From(wrapped) = %v, %v; want the original error, true", e, ok)
	}
	e, ok = From(errors.New("disk on fire"))
	if ok || e.Status() != 500 || e.Code != "internal" {
		t.Fatalf("From(plain) = %+v, %v; want internal, false", e, ok)
	}
	if RateLimited("x", 0).RetryAfter != 1 {
		t.Fatal("RetryAfter must be at least 1")
	}
}
