// Package avatartest provides real image files for tests.
package avatartest

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"testing"
)

// Tiny but complete 1×1 WebP files (the images browsers' feature detection
// uses), one per WebP chunk kind, base64-encoded.
const (
	WebPLossless = "UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA=="
	WebPLossy    = "UklGRiIAAABXRUJQVlA4IBYAAAAwAQCdASoBAAEADsD+JaQAA3AAAAAA"
	WebPExtended = "UklGRkoAAABXRUJQVlA4WAoAAAAQAAAAAAAAAAAAQUxQSAwAAAARBxAR/Q9ERP8DAABWUDggGAAAABQBAJ0BKgEAAQAAAP4AAA3AAP7mtQAAAA=="
)

// PNG encodes a w×h PNG whose pixels depend on the size, so different sizes
// give different bytes.
func PNG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for x := 0; x < w; x++ {
		for y := 0; y < h; y++ {
			img.Set(x, y, color.NRGBA{R: uint8(x * 37), G: uint8(y * 91), B: uint8(w + h), A: 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
