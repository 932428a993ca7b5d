package app_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestCORS(t *testing.T) {
	f := startFixture(t, nil)
	tok := f.token(t)
	const evil = "https://evil.example"
	tests := []struct {
		name       string
		req        request
		wantStatus int
		wantACAO   string // "" = no CORS headers at all
		preflight  bool
	}{
		{"allowed origin, proxied", request{path: "/api/chat/rooms", token: tok, header: map[string]string{"Origin": testOrigin}}, 200, testOrigin, false},
		{"second allowed origin", request{path: "/api/chat/rooms", token: tok, header: map[string]string{"Origin": "http://localhost:8080"}}, 200, "http://localhost:8080", false},
		{"allowed origin on a 401 so the app can read it", request{path: "/api/chat/rooms", header: map[string]string{"Origin": testOrigin}}, 401, testOrigin, false},
		{"allowed origin on a 404", request{path: "/api/nope", header: map[string]string{"Origin": testOrigin}}, 404, testOrigin, false},
		{"disallowed origin: served, no CORS, upstream's not leaked", request{path: "/api/chat/rooms", token: tok, header: map[string]string{"Origin": evil}}, 200, "", false},
		{"null origin", request{path: "/api/chat/rooms", token: tok, header: map[string]string{"Origin": "null"}}, 200, "", false},
		{"no origin: no CORS, upstream's not leaked", request{path: "/api/chat/rooms", token: tok}, 200, "", false},
		{"preflight allowed", request{method: "OPTIONS", path: "/api/chat/rooms/1/messages", header: map[string]string{
			"Origin": testOrigin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type",
		}}, 204, testOrigin, true},
		{"preflight allowed on a public route", request{method: "OPTIONS", path: "/api/auth/login", header: map[string]string{
			"Origin": testOrigin, "Access-Control-Request-Method": "POST",
		}}, 204, testOrigin, true},
		{"preflight disallowed", request{method: "OPTIONS", path: "/api/chat/rooms", header: map[string]string{
			"Origin": evil, "Access-Control-Request-Method": "GET",
		}}, 403, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hitsBefore := f.chat.hits.Load() + f.auth.hits.Load()
			res := f.do(t, tc.req)
			res.wantStatus(t, tc.wantStatus)
			if got := res.Header.Values("Access-Control-Allow-Origin"); strings.Join(got, "|") != tc.wantACAO {
				t.Fatalf("Access-Control-Allow-Origin %q, want %q", got, tc.wantACAO)
			}
			if got := res.Header.Values("Access-Control-Allow-Credentials"); len(got) != 0 {
				t.Fatalf("upstream Access-Control-Allow-Credentials leaked: %q", got)
			}
			vary := strings.Join(res.Header.Values("Vary"), ",")
			if n := strings.Count(strings.ToLower(vary), "origin"); n != 1 {
				t.Fatalf("Vary %q names Origin %d times", vary, n)
			}
			if tc.wantStatus == 200 && !strings.Contains(vary, "Accept-Encoding") {
				t.Fatalf("Vary %q lost the upstream's Accept-Encoding", vary)
			}
			if tc.wantACAO == "" {
				for k := range res.Header {
					if strings.HasPrefix(k, "Access-Control-") {
						t.Fatalf("CORS header %s on a non-allowed answer", k)
					}
				}
			}
			if tc.preflight {
				if hits := f.chat.hits.Load() + f.auth.hits.Load(); hits != hitsBefore {
					t.Fatalf("preflight reached the upstream")
				}
				if tc.wantStatus == 204 {
					methods := strings.Split(res.Header.Get("Access-Control-Allow-Methods"), ", ")
					for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
						if !slices.Contains(methods, m) {
							t.Errorf("Allow-Methods %q lacks %s", methods, m)
						}
					}
					if got := res.Header.Get("Access-Control-Allow-Headers"); got != "Authorization, Content-Type, X-Request-ID" {
						t.Errorf("Allow-Headers %q", got)
					}
					if got := res.Header.Get("Access-Control-Max-Age"); got == "" || got == "0" {
						t.Errorf("Max-Age %q", got)
					}
				} else {
					res.errorCode(t)
				}
				return
			}
			if tc.wantACAO != "" {
				if got := res.Header.Get("Access-Control-Expose-Headers"); !strings.Contains(got, "X-Request-ID") || !strings.Contains(got, "Retry-After") {
					t.Fatalf("Expose-Headers %q", got)
				}
			}
		})
	}
}

func TestCORSWildcard(t *testing.T) {
	f := startFixture(t, map[string]string{"ALLOWED_ORIGINS": "*"})
	res := f.do(t, request{method: http.MethodOptions, path: "/api/chat/rooms", header: map[string]string{
		"Origin": "https://anything.example", "Access-Control-Request-Method": "GET",
	}})
	res.wantStatus(t, 204)
	if got := res.Header.Get("Access-Control-Allow-Origin"); got != "https://anything.example" {
		t.Fatalf("Access-Control-Allow-Origin %q", got)
	}
}
