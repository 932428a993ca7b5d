package avatar_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"

	"github.com/parleychat/parley/platform/apperr"

	"github.com/parleychat/parley/user-service/internal/avatar"
	"github.com/parleychat/parley/user-service/internal/avatar/avatartest"
)

func b64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func encode(t *testing.T, w, h int, enc func(*bytes.Buffer, image.Image) error) []byte {
	t.Helper()
	img := image.NewPaletted(image.Rect(0, 0, w, h), color.Palette{color.White, color.Black})
	var buf bytes.Buffer
	if err := enc(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestInspect(t *testing.T) {
	pngData := avatartest.PNG(t, 3, 2)
	jpegData := encode(t, 5, 4, func(b *bytes.Buffer, m image.Image) error { return jpeg.Encode(b, m, nil) })
	gifData := encode(t, 7, 6, func(b *bytes.Buffer, m image.Image) error { return gif.Encode(b, m, nil) })
	hugePNG := encode(t, avatar.MaxSide+1, 1, func(b *bytes.Buffer, m image.Image) error { return png.Encode(b, m) })

	tests := []struct {
		name     string
		data     []byte
		wantType string
		wantW    int
		wantH    int
		wantCode string
		wantKind apperr.Kind
	}{
		{name: "png", data: pngData, wantType: avatar.PNG, wantW: 3, wantH: 2},
		{name: "jpeg", data: jpegData, wantType: avatar.JPEG, wantW: 5, wantH: 4},
		{name: "gif", data: gifData, wantType: avatar.GIF, wantW: 7, wantH: 6},
		{name: "webp lossless", data: b64(t, avatartest.WebPLossless), wantType: avatar.WebP, wantW: 1, wantH: 1},
		{name: "webp lossy", data: b64(t, avatartest.WebPLossy), wantType: avatar.WebP, wantW: 1, wantH: 1},
		{name: "webp extended", data: b64(t, avatartest.WebPExtended), wantType: avatar.WebP, wantW: 1, wantH: 1},

		{name: "empty", data: nil, wantCode: "invalid_image", wantKind: apperr.KindValidation},
		{name: "plain text", data: []byte("hello, I am not a picture"), wantCode: "unsupported_image", wantKind: apperr.KindValidation},
		{name: "html", data: []byte("<!DOCTYPE html><html><script>alert(1)</script></html>"), wantCode: "unsupported_image", wantKind: apperr.KindValidation},
		{name: "svg", data: []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), wantCode: "unsupported_image", wantKind: apperr.KindValidation},
		{name: "bare svg", data: []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`), wantCode: "unsupported_image", wantKind: apperr.KindValidation},
		{name: "pdf", data: []byte("%PDF-1.4\n%..."), wantCode: "unsupported_image", wantKind: apperr.KindValidation},
		{name: "bmp", data: append([]byte("BM"), make([]byte, 64)...), wantCode: "unsupported_image", wantKind: apperr.KindValidation},
		{name: "png magic then garbage", data: append([]byte("\x89PNG\r\n\x1a\n"), []byte("garbage garbage garbage")...), wantCode: "invalid_image", wantKind: apperr.KindValidation},
		{name: "truncated jpeg", data: jpegData[:12], wantCode: "invalid_image", wantKind: apperr.KindValidation},
		{name: "truncated webp", data: b64(t, avatartest.WebPLossy)[:30], wantCode: "invalid_image", wantKind: apperr.KindValidation},
		{name: "webp unknown chunk", data: []byte("RIFF\x14\x00\x00\x00WEBPVP8Zxxxxxxxxxxxx"), wantCode: "invalid_image", wantKind: apperr.KindValidation},
		{name: "too many pixels", data: hugePNG, wantCode: "invalid_image", wantKind: apperr.KindValidation},
		{name: "too many bytes", data: append(bytes.Clone(pngData), make([]byte, avatar.MaxBytes)...), wantCode: "avatar_too_large", wantKind: apperr.KindTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, err := avatar.Inspect(tt.data)
			if tt.wantCode != "" {
				var ae *apperr.Error
				if !errors.As(err, &ae) {
					t.Fatalf("Inspect() error = %v, want apperr %s", err, tt.wantCode)
				}
				if ae.Code != tt.wantCode || ae.Kind != tt.wantKind {
					t.Fatalf("Inspect() = %s (kind %d), want %s (kind %d)", ae.Code, ae.Kind, tt.wantCode, tt.wantKind)
				}
				return
			}
			if err != nil {
				t.Fatalf("Inspect() error = %v", err)
			}
			if img.ContentType != tt.wantType || img.Width != tt.wantW || img.Height != tt.wantH {
				t.Fatalf("Inspect() = %s %d×%d, want %s %d×%d", img.ContentType, img.Width, img.Height, tt.wantType, tt.wantW, tt.wantH)
			}
			if img.Hash != avatar.Hash(tt.data) || len(img.Hash) != 64 {
				t.Fatalf("hash = %q", img.Hash)
			}
			if img.ETag() != `"`+img.Hash[:32]+`"` || img.Version() != img.Hash[:16] {
				t.Fatalf("etag %s version %s", img.ETag(), img.Version())
			}
		})
	}
}

func TestInitial(t *testing.T) {
	tests := []struct{ display, username, want string }{
		{"alice", "bob", "A"},
		{"  émile ", "x", "É"},
		{"", "bob", "B"},
		{"   ", "carol", "C"},
		{"🙂 smile", "dave", "D"},
		{"", "_under", "?"},
		{"", "", "?"},
		{"7even", "x", "7"},
		{"<script>", "mallory", "M"},
	}
	for _, tt := range tests {
		if got := avatar.Initial(tt.display, tt.username); got != tt.want {
			t.Errorf("Initial(%q, %q) = %q, want %q", tt.display, tt.username, got, tt.want)
		}
	}
}

func TestDefault(t *testing.T) {
	a := avatar.Default(42, "A")
	if a.ContentType != avatar.SVG {
		t.Fatalf("content type %s", a.ContentType)
	}
	s := string(a.Data)
	if !strings.HasPrefix(s, "<svg ") || !strings.Contains(s, ">A</text>") || !strings.Contains(s, avatar.Colour(42)) {
		t.Fatalf("unexpected svg: %s", s)
	}
	if strings.Contains(s, "<script") || strings.Contains(s, "href") {
		t.Fatalf("default avatar must be inert: %s", s)
	}
	again := avatar.Default(42, "A")
	if !bytes.Equal(a.Data, again.Data) || a.ETag() != again.ETag() {
		t.Fatal("default avatar is not deterministic")
	}
	if avatar.Default(42, "B").ETag() == a.ETag() {
		t.Fatal("different initials share an ETag")
	}
	// Anything that is not a letter or digit is drawn as "?", so markup can
	// never reach the SVG.
	if got := string(avatar.Default(1, "<").Data); !strings.Contains(got, ">?</text>") || strings.Contains(got, "<<") {
		t.Fatalf("unsafe initial not replaced: %s", got)
	}
	colours := map[string]bool{}
	for id := int64(1); id <= 50; id++ {
		colours[avatar.Colour(id)] = true
	}
	if len(colours) < 8 {
		t.Fatalf("ids 1..50 use only %d colours", len(colours))
	}
}
