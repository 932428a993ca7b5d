package app_test

import (
	"bytes"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/parleychat/parley/user-service/internal/avatar/avatartest"
)

func pngBytes(t *testing.T) []byte { return avatartest.PNG(t, 4, 4) }

// fetch GETs path with optional If-None-Match and returns status, headers
// and body.
func (h *harness) fetch(path, ifNoneMatch string) (*http.Response, []byte) {
	h.t.Helper()
	var hdr []string
	if ifNoneMatch != "" {
		hdr = []string{"If-None-Match", ifNoneMatch}
	}
	resp := h.request(http.MethodGet, path, "", nil, hdr...)
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp, body
}

func TestAvatarUploadRoundTrip(t *testing.T) {
	h := start(t, nil)
	tok := h.token(9, "ivy")
	var before profileView
	h.call(http.MethodGet, "/profiles/me", tok, nil, http.StatusOK, &before)

	img := pngBytes(t)
	// The declared part type is ignored: the bytes decide.
	resp := h.upload(9, tok, "avatar", "me.bin", "application/octet-stream", img)
	var p profileView
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("upload = %d %s", resp.StatusCode, raw)
	}
	decodeJSON(t, raw, &p)
	if p.AvatarURL == before.AvatarURL || !avatarURL.MatchString(p.AvatarURL) {
		t.Fatalf("avatar_url %q (before %q)", p.AvatarURL, before.AvatarURL)
	}
	if p.UpdatedAt.Before(before.UpdatedAt) {
		t.Fatal("updated_at went back")
	}

	// The avatar is public: no token.
	path := strings.TrimPrefix(p.AvatarURL, "/api/users")
	resp, body := h.fetch(path, "")
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, img) {
		t.Fatalf("GET avatar = %d, %d bytes", resp.StatusCode, len(body))
	}
	etag := resp.Header.Get("ETag")
	checks := map[string]string{
		"Content-Type":           "image/png",
		"Cache-Control":          "public, max-age=31536000, immutable",
		"X-Content-Type-Options": "nosniff",
	}
	for k, v := range checks {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if len(etag) != 34 || etag[0] != '"' || strings.HasPrefix(etag, "W/") {
		t.Fatalf("ETag = %q, want a strong hash", etag)
	}
	if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatalf("CSP = %q", resp.Header.Get("Content-Security-Policy"))
	}

	// Revalidation: 304 with no body; without ?v= the answer must be
	// revalidated each time.
	resp, body = h.fetch("/avatars/9", etag)
	if resp.StatusCode != http.StatusNotModified || len(body) != 0 || resp.Header.Get("ETag") != etag {
		t.Fatalf("conditional GET = %d, %d bytes, etag %q", resp.StatusCode, len(body), resp.Header.Get("ETag"))
	}
	resp, _ = h.fetch("/avatars/9", `"something-else", `+etag)
	if resp.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match list = %d", resp.StatusCode)
	}
	resp, _ = h.fetch("/avatars/9", "")
	if cc := resp.Header.Get("Cache-Control"); cc != "public, no-cache" {
		t.Fatalf("unversioned Cache-Control = %q", cc)
	}
	resp, _ = h.fetch("/avatars/9?v=stale", "")
	if cc := resp.Header.Get("Cache-Control"); cc != "public, no-cache" {
		t.Fatalf("stale version Cache-Control = %q", cc)
	}

	// HEAD works without a body.
	head := h.request(http.MethodHead, "/avatars/9", "", nil)
	if head.StatusCode != http.StatusOK || head.Header.Get("ETag") != etag {
		t.Fatalf("HEAD = %d %q", head.StatusCode, head.Header.Get("ETag"))
	}

	// A new picture: new ETag, new URL, the old ETag no longer matches.
	gif, _ := base64.StdEncoding.DecodeString(avatartest.WebPLossless)
	resp = h.upload(9, tok, "avatar", "me.webp", "image/webp", gif)
	var p2 profileView
	raw, _ = io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("second upload = %d %s", resp.StatusCode, raw)
	}
	decodeJSON(t, raw, &p2)
	if p2.AvatarURL == p.AvatarURL {
		t.Fatal("avatar_url unchanged after a new upload")
	}
	resp, body = h.fetch("/avatars/9", etag)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") == etag || resp.Header.Get("Content-Type") != "image/webp" || !bytes.Equal(body, gif) {
		t.Fatalf("after replace = %d %q %q", resp.StatusCode, resp.Header.Get("ETag"), resp.Header.Get("Content-Type"))
	}

	// Deleting goes back to the default, and the URL changes again.
	var p3 profileView
	h.call(http.MethodDelete, "/profiles/me/avatar", tok, nil, http.StatusOK, &p3)
	if p3.AvatarURL != before.AvatarURL {
		t.Fatalf("after delete avatar_url = %q, want the default %q", p3.AvatarURL, before.AvatarURL)
	}
	resp, _ = h.fetch("/avatars/9", "")
	if resp.Header.Get("Content-Type") != "image/svg+xml" {
		t.Fatalf("after delete content type = %q", resp.Header.Get("Content-Type"))
	}
}

func TestAdminSetsAvatar(t *testing.T) {
	h := start(t, nil)
	h.call(http.MethodGet, "/profiles/me", h.token(1, "amy"), nil, http.StatusOK, nil)
	resp := h.upload(1, h.adminToken(2, "root"), "avatar", "a.png", "image/png", pngBytes(t))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("admin upload = %d", resp.StatusCode)
	}
	wantError(t, h.upload(55, h.adminToken(2, "root"), "avatar", "a.png", "image/png", pngBytes(t)), http.StatusNotFound, "profile_not_found")
}

func TestAvatarUploadRefused(t *testing.T) {
	h := start(t, nil)
	tok := h.token(4, "dan")
	img := pngBytes(t)
	var orig profileView
	if resp := h.upload(4, tok, "avatar", "a.png", "image/png", img); resp.StatusCode != http.StatusOK {
		t.Fatalf("setup upload = %d", resp.StatusCode)
	}
	h.call(http.MethodGet, "/profiles/me", tok, nil, http.StatusOK, &orig)

	oversize := append(bytes.Clone(img), make([]byte, 1<<20)...)
	tests := []struct {
		name     string
		field    string
		partType string
		data     []byte
		status   int
		code     string
	}{
		{"text", "avatar", "image/png", []byte("just some text, honest"), http.StatusUnprocessableEntity, "unsupported_image"},
		{"html", "avatar", "image/png", []byte("<!doctype html><html><body onload=alert(1)></body></html>"), http.StatusUnprocessableEntity, "unsupported_image"},
		{"svg", "avatar", "image/svg+xml", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), http.StatusUnprocessableEntity, "unsupported_image"},
		{"svg with xml prolog", "avatar", "image/svg+xml", []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>`), http.StatusUnprocessableEntity, "unsupported_image"},
		{"png header then garbage", "avatar", "image/png", append([]byte("\x89PNG\r\n\x1a\n"), "rest"...), http.StatusUnprocessableEntity, "invalid_image"},
		{"empty file", "avatar", "image/png", nil, http.StatusUnprocessableEntity, "invalid_image"},
		{"wrong field name", "picture", "image/png", img, http.StatusUnprocessableEntity, "missing_avatar"},
		{"over 1 MiB", "avatar", "image/png", oversize, http.StatusRequestEntityTooLarge, "avatar_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, h.upload(4, tok, tt.field, "x", tt.partType, tt.data), tt.status, tt.code)
		})
	}
	t.Run("not multipart", func(t *testing.T) {
		wantError(t, h.request(http.MethodPut, "/profiles/4/avatar", tok, img, "Content-Type", "image/png"), http.StatusBadRequest, "invalid_multipart")
	})
	t.Run("broken multipart", func(t *testing.T) {
		body := "--xyz\r\nContent-Disposition: form-data; name=\"avatar\"\r\n\r\n\x89PNG"
		resp := h.request(http.MethodPut, "/profiles/4/avatar", tok, body, "Content-Type", "multipart/form-data; boundary=xyz")
		wantError(t, resp, http.StatusBadRequest, "invalid_multipart")
	})
	t.Run("body far over the limit", func(t *testing.T) {
		body, ct := multipartBody(t, "avatar", "big.png", "image/png", append(bytes.Clone(img), make([]byte, 3<<20)...))
		resp := h.request(http.MethodPut, "/profiles/4/avatar", tok, io.Reader(body), "Content-Type", ct)
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("status = %d", resp.StatusCode)
		}
	})
	t.Run("body over the limit without a length", func(t *testing.T) {
		body, ct := multipartBody(t, "avatar", "big.png", "image/png", append(bytes.Clone(img), make([]byte, 3<<20)...))
		// Hiding the reader's type makes the client send it chunked.
		resp := h.request(http.MethodPut, "/profiles/4/avatar", tok, io.MultiReader(body), "Content-Type", ct)
		wantError(t, resp, http.StatusRequestEntityTooLarge, "avatar_too_large")
	})

	// Nothing changed.
	var now profileView
	h.call(http.MethodGet, "/profiles/me", tok, nil, http.StatusOK, &now)
	if now != orig {
		t.Fatalf("refused uploads changed the profile: %+v, was %+v", now, orig)
	}
	_, body := h.fetch("/avatars/4", "")
	if !bytes.Equal(body, img) {
		t.Fatal("refused uploads changed the stored image")
	}
}

func TestDefaultAvatar(t *testing.T) {
	h := start(t, nil)
	var p profileView
	h.call(http.MethodGet, "/profiles/me", h.token(12, "zoe"), nil, http.StatusOK, &p)

	resp, body := h.fetch(strings.TrimPrefix(p.AvatarURL, "/api/users"), "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("default avatar = %d", resp.StatusCode)
	}
	want := map[string]string{
		"Content-Type":           "image/svg+xml",
		"X-Content-Type-Options": "nosniff",
		"Cache-Control":          "public, max-age=31536000, immutable",
	}
	for k, v := range want {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "sandbox") {
		t.Fatalf("CSP = %q", csp)
	}
	if s := string(body); !strings.HasPrefix(s, "<svg") || !strings.Contains(s, ">Z</text>") || strings.Contains(s, "script") {
		t.Fatalf("svg = %s", s)
	}
	etag := resp.Header.Get("ETag")
	if resp, _ := h.fetch("/avatars/12", etag); resp.StatusCode != http.StatusNotModified {
		t.Fatalf("default avatar revalidation = %d", resp.StatusCode)
	}

	// A user without a profile still gets a picture, never a broken image.
	resp, body = h.fetch("/avatars/4242", "")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/svg+xml" || !strings.Contains(string(body), ">?</text>") {
		t.Fatalf("unknown user avatar = %d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	// An id that cannot exist is a JSON 404.
	for _, id := range []string{"0", "abc", "-1"} {
		wantError(t, h.request(http.MethodGet, "/avatars/"+id, "", nil), http.StatusNotFound, "not_found")
	}
}
