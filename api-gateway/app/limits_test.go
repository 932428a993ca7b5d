package app_test

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

func TestRateLimit(t *testing.T) {
	// 0.1 token/s: a spent bucket stays empty for the whole test.
	f := startFixture(t, map[string]string{"RATE_LIMIT_RPS": "0.1", "RATE_LIMIT_BURST": "3", "TRUSTED_PROXIES": "127.0.0.1"})
	tok := f.token(t)
	client := func(ip string) map[string]string {
		return map[string]string{"X-Forwarded-For": ip, "Origin": testOrigin}
	}
	for range 3 {
		f.do(t, request{path: "/api/chat/rooms", token: tok, header: client("198.51.100.1")}).wantStatus(t, 200)
	}
	t.Run("over the burst", func(t *testing.T) {
		res := f.do(t, request{path: "/api/chat/rooms", token: tok, header: client("198.51.100.1")})
		res.wantStatus(t, http.StatusTooManyRequests)
		if code := res.errorCode(t); code != "rate_limited" {
			t.Fatalf("code %q", code)
		}
		ra, err := strconv.Atoi(res.Header.Get("Retry-After"))
		if err != nil || ra < 1 || ra > 10 {
			t.Fatalf("Retry-After %q, want 1..10 seconds", res.Header.Get("Retry-After"))
		}
		if got := res.Header.Get("Access-Control-Allow-Origin"); got != testOrigin {
			t.Fatalf("429 without CORS (%q): the app could not read Retry-After", got)
		}
	})
	t.Run("applies before the token check", func(t *testing.T) {
		res := f.do(t, request{path: "/api/chat/rooms", header: client("198.51.100.1")})
		res.wantStatus(t, http.StatusTooManyRequests)
	})
	t.Run("public routes count too", func(t *testing.T) {
		f.do(t, request{method: "POST", path: "/api/auth/login", header: client("198.51.100.1")}).wantStatus(t, http.StatusTooManyRequests)
	})
	t.Run("other clients have their own bucket", func(t *testing.T) {
		f.do(t, request{path: "/api/chat/rooms", token: tok, header: client("198.51.100.2")}).wantStatus(t, 200)
	})
	t.Run("health endpoints are exempt", func(t *testing.T) {
		for _, p := range []string{"/healthz", "/readyz", "/metrics", "/health", "/healthz", "/readyz"} {
			f.do(t, request{path: p, header: client("198.51.100.1")}).wantStatus(t, 200)
		}
	})
}

func TestRateLimitIgnoresForwardedForFromUntrustedPeers(t *testing.T) {
	f := startFixture(t, map[string]string{"RATE_LIMIT_RPS": "0.1", "RATE_LIMIT_BURST": "2"})
	tok := f.token(t)
	// Changing X-Forwarded-For does not buy a fresh bucket when the peer
	// is not a trusted proxy.
	for i, want := range []int{200, 200, 429, 429} {
		f.do(t, request{path: "/api/chat/rooms", token: tok, header: map[string]string{"X-Forwarded-For": "203.0.113." + itoa(i)}}).wantStatus(t, want)
	}
}

// unsized hides a reader's length so the client sends it chunked.
type unsized struct{ io.Reader }

func TestBodyLimit(t *testing.T) {
	f := startFixture(t, map[string]string{"MAX_BODY_BYTES": "4096"})
	tok := f.token(t)
	tests := []struct {
		name       string
		body       io.Reader
		wantStatus int
	}{
		{"under the limit", bytes.NewReader(make([]byte, 4000)), 200},
		{"exactly the limit", bytes.NewReader(make([]byte, 4096)), 200},
		{"declared over the limit", bytes.NewReader(make([]byte, 4097)), 413},
		{"far over the limit", bytes.NewReader(make([]byte, 10<<20)), 413},
		{"chunked under the limit", unsized{bytes.NewReader(make([]byte, 4000))}, 200},
		{"chunked over the limit", unsized{bytes.NewReader(make([]byte, 64<<10))}, 413},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := f.do(t, request{method: "POST", path: "/api/chat/rooms/1/messages", token: tok, body: tc.body,
				header: map[string]string{"Content-Type": "application/octet-stream", "Origin": testOrigin}})
			res.wantStatus(t, tc.wantStatus)
			if tc.wantStatus == 413 {
				if code := res.errorCode(t); code != "body_too_large" {
					t.Fatalf("code %q", code)
				}
				if res.Header.Get("Access-Control-Allow-Origin") != testOrigin {
					t.Fatalf("413 without CORS: the app could not read it")
				}
				return
			}
			if s := res.seen(t); s.BodyErr != "" {
				t.Fatalf("upstream body error %s", s.BodyErr)
			}
		})
	}
}

// An upload (POST /api/chat/rooms/:id/files) may carry FILE_MAX_BYTES
// plus the multipart framing; every other route keeps MAX_BODY_BYTES.
func TestUploadBodyLimit(t *testing.T) {
	f := startFixture(t, map[string]string{"MAX_BODY_BYTES": "4096", "FILE_MAX_BYTES": "100000"})
	tok := f.token(t)
	const limit = 100000 + 64<<10
	for _, tc := range []struct {
		name       string
		path       string
		body       io.Reader
		wantStatus int
	}{
		{"a file under the upload limit", "/api/chat/rooms/1/files", bytes.NewReader(make([]byte, limit)), 200},
		{"chunked under the upload limit", "/api/chat/rooms/1/files", unsized{bytes.NewReader(make([]byte, limit))}, 200},
		{"declared over the upload limit", "/api/chat/rooms/1/files", bytes.NewReader(make([]byte, limit+1)), 413},
		{"chunked over the upload limit", "/api/chat/rooms/1/files", unsized{bytes.NewReader(make([]byte, limit+1))}, 413},
		{"the same size elsewhere", "/api/chat/rooms/1/messages", bytes.NewReader(make([]byte, 8192)), 413},
		{"the same size on another files path", "/api/chat/rooms/1/files/x", bytes.NewReader(make([]byte, 8192)), 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := f.do(t, request{method: "POST", path: tc.path, token: tok, body: tc.body,
				header: map[string]string{"Content-Type": "application/octet-stream", "Origin": testOrigin}})
			res.wantStatus(t, tc.wantStatus)
			if tc.wantStatus == 413 {
				if code := res.errorCode(t); code != "body_too_large" {
					t.Fatalf("code %q", code)
				}
				return
			}
			if s := res.seen(t); s.BodyErr != "" {
				t.Fatalf("upstream body error %s", s.BodyErr)
			}
		})
	}
}

func TestDefaultBodyLimitFitsAnAvatarUpload(t *testing.T) {
	f := startFixture(t, nil)
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	part, err := mw.CreateFormFile("avatar", "me.png")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = part.Write(bytes.Repeat([]byte{0x89}, 1<<20)) // the user-service maximum
	_ = mw.WriteField("note", strings.Repeat("x", 1000))
	_ = mw.Close()
	size := buf.Len()
	res := f.do(t, request{method: "PUT", path: "/api/users/profiles/42/avatar", token: f.token(t), body: &buf,
		header: map[string]string{"Content-Type": mw.FormDataContentType()}})
	res.wantStatus(t, 200)
	if s := res.seen(t); s.BodyLen != size {
		t.Fatalf("upstream got %d bytes, want %d", s.BodyLen, size)
	}
	// Over 2 MiB is refused.
	res = f.do(t, request{method: "PUT", path: "/api/users/profiles/42/avatar", token: f.token(t), body: bytes.NewReader(make([]byte, 2<<20+1))})
	res.wantStatus(t, 413)
}
