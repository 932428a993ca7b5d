package httpapi

import (
	"net/http"
	"testing"
)

func TestPublicRouteMatching(t *testing.T) {
	g := &gate{public: publicRoutes()}
	tests := []struct {
		method, path string
		want         bool
	}{
		{"POST", "/api/auth/login", true},
		{"POST", "/api/auth/register", true},
		{"POST", "/api/auth/refresh", true},
		{"POST", "/api/auth/logout", true},
		{"GET", "/api/auth/.well-known/jwks.json", true},
		{"HEAD", "/api/auth/.well-known/jwks.json", true},
		{"GET", "/api/users/avatars/12", true},
		{"HEAD", "/api/users/avatars/12", true},
		{"GET", "/api/chat/files/7", true},
		{"HEAD", "/api/chat/files/7", true},
		{"GET", "/api/chat/files/7/thumbnail", true},
		{"HEAD", "/api/chat/files/7/thumbnail", true},
		{"POST", "/api/chat/hooks/abcDEF012-_", true},

		{"GET", "/api/auth/login", false},
		{"POST", "/api/auth/login/", false},
		{"POST", "/api/auth/loginx", false},
		{"POST", "/api/auth/verify", false},
		{"GET", "/api/auth/me", false},
		{"GET", "/api/users/avatars/", false},
		{"GET", "/api/users/avatars", false},
		{"GET", "/api/users/avatars/12/", false},
		{"GET", "/api/users/avatars/12/raw", false},
		{"GET", "/api/users/avatars//12", false},
		{"PUT", "/api/users/avatars/12", false},
		{"DELETE", "/api/users/avatars/12", false},
		{"GET", "/api/chat/avatars/12", false},
		{"POST", "/api/chat/files/7", false},
		{"DELETE", "/api/chat/files/7", false},
		{"GET", "/api/chat/files", false},
		{"GET", "/api/chat/files/", false},
		{"GET", "/api/chat/files/7/raw", false},
		{"GET", "/api/chat/files/7/thumbnail/x", false},
		{"POST", "/api/chat/rooms/1/files", false},
		{"GET", "/api/chat/rooms/1/files", false},
		{"POST", "/api/chat/login", false},
		{"POST", "/api/auth//login", false},
		{"GET", "/api/chat/hooks/abc", false},
		{"DELETE", "/api/chat/hooks/abc", false},
		{"POST", "/api/chat/hooks/", false},
		{"POST", "/api/chat/hooks", false},
		{"POST", "/api/chat/hooks/abc/x", false},
		{"POST", "/api/chat/rooms/1/webhooks", false},
		{"POST", "/api/users/hooks/abc", false},
	}
	for _, tc := range tests {
		if got := g.isPublic(tc.method, tc.path); got != tc.want {
			t.Errorf("isPublic(%s %s) = %v, want %v", tc.method, tc.path, got, tc.want)
		}
	}
}

func TestIdentityHeaderNames(t *testing.T) {
	for k, want := range map[string]bool{
		"X-User-Id": true, "X-User-Role": true, "x-user-name": true, "X_User_Id": true, "X-USER-": true,
		"X-User": false, "X-Users": false, "X-Request-Id": false, "Authorization": false, "X-Userid": false,
	} {
		if got := isIdentityHeader(k); got != want {
			t.Errorf("isIdentityHeader(%q) = %v, want %v", k, got, want)
		}
	}
}

func TestIsUpgrade(t *testing.T) {
	for _, tc := range []struct {
		conn, upgrade string
		want          bool
	}{
		{"Upgrade", "websocket", true},
		{"keep-alive, upgrade", "websocket", true},
		{"Upgrade", "h2c", true},
		{"keep-alive", "websocket", false},
		{"Upgrade", "", false},
	} {
		r, _ := http.NewRequest("GET", "/", nil)
		r.Header.Set("Connection", tc.conn)
		if tc.upgrade != "" {
			r.Header.Set("Upgrade", tc.upgrade)
		}
		if got := isUpgrade(r); got != tc.want {
			t.Errorf("isUpgrade(%q, %q) = %v", tc.conn, tc.upgrade, got)
		}
	}
}

func TestParseTrustedProxies(t *testing.T) {
	nets, err := ParseTrustedProxies([]string{"10.0.0.0/8", "192.168.1.7", "::1", "fd00::/8"})
	if err != nil || len(nets) != 4 {
		t.Fatalf("%v %v", nets, err)
	}
	if !isTrusted(nets, "192.168.1.7") || isTrusted(nets, "192.168.1.8") || !isTrusted(nets, "10.2.3.4") || !isTrusted(nets, "::1") {
		t.Fatal("membership wrong")
	}
	for _, bad := range []string{"10.0.0.0/33", "example.com", "300.1.1.1"} {
		if _, err := ParseTrustedProxies([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
