package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"reflect"
	"syscall"
	"testing"
	"time"
)

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "timeout awaiting response headers" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestClassify(t *testing.T) {
	live := context.Background()
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithTimeoutCause(context.Background(), time.Nanosecond, errExchangeTimeout)
	defer cancel2()
	<-expired.Done()

	refused := &net.OpError{Op: "dial", Net: "tcp", Err: &net.OpError{Err: syscall.ECONNREFUSED}}
	dialTimeout := &net.OpError{Op: "dial", Net: "tcp", Err: timeoutErr{}}
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want int
		code string
	}{
		{"refused", live, refused, 503, "upstream_unavailable"},
		{"dial timeout is unreachable, not slow", live, dialTimeout, 503, "upstream_unavailable"},
		{"header timeout", live, fmt.Errorf("round trip: %w", timeoutErr{}), 504, "upstream_timeout"},
		{"exchange cap", expired, context.DeadlineExceeded, 504, "upstream_timeout"},
		{"client gone", canceled, context.Canceled, StatusClientClosed, ""},
		{"body too large", live, fmt.Errorf("write: %w", &http.MaxBytesError{Limit: 10}), 413, "body_too_large"},
		{"reset", live, &net.OpError{Op: "read", Err: syscall.ECONNRESET}, 503, "upstream_unavailable"},
		{"other", live, errors.New("EOF"), 503, "upstream_unavailable"},
	}
	for _, tc := range tests {
		status, e := Classify(tc.ctx, tc.err)
		if status != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, status, tc.want)
		}
		if tc.code != "" && (e == nil || e.Code != tc.code) {
			t.Errorf("%s: error %v, want code %s", tc.name, e, tc.code)
		}
	}
}

func TestWithoutToken(t *testing.T) {
	for _, tc := range []struct {
		in, want []string
	}{
		{[]string{"Origin"}, nil},
		{[]string{"Origin, Accept-Encoding"}, []string{"Accept-Encoding"}},
		{[]string{"accept-encoding", "origin"}, []string{"accept-encoding"}},
		{[]string{"Accept, ORIGIN , Cookie"}, []string{"Accept, Cookie"}},
	} {
		if got := withoutToken(tc.in, "Origin"); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("withoutToken(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestStripPrefix(t *testing.T) {
	for in, want := range map[string]string{
		"/api/chat/rooms": "/rooms", "/api/chat/": "/", "/api/chat": "/",
	} {
		if got := stripPrefix(in, "/api/chat"); got != want {
			t.Errorf("stripPrefix(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLogPathRedactsWebhookTokens(t *testing.T) {
	for in, want := range map[string]string{
		"/api/chat/hooks/SECRET":     "/api/chat/hooks/[redacted]",
		"/hooks/SECRET/extra":        "/hooks/[redacted]",
		"/api/chat/rooms/1/webhooks": "/api/chat/rooms/1/webhooks",
		"/api/chat/rooms/1/messages": "/api/chat/rooms/1/messages",
	} {
		if got := LogPath(in); got != want {
			t.Errorf("LogPath(%q) = %q, want %q", in, got, want)
		}
	}
}
