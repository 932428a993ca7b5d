// Package avatar checks uploaded avatar images and draws the default avatar
// of a user who has none. It trusts the bytes, never the client's declared
// content type: an upload is accepted only when its bytes are a PNG, JPEG,
// GIF or WebP image whose header parses and whose size is sane.
package avatar

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"net/http"
	"strings"

	"github.com/parleychat/parley/platform/apperr"
)

// MaxBytes is the largest avatar upload accepted (ARCHITECTURE.md, Contract: HTTP APIs).
const MaxBytes = 1 << 20

// MaxSide bounds each dimension: a tiny file can declare a huge canvas, and
// every browser showing the avatar would have to decode it.
const MaxSide = 4096

// The content types an avatar may have.
const (
	PNG  = "image/png"
	JPEG = "image/jpeg"
	GIF  = "image/gif"
	WebP = "image/webp"
	SVG  = "image/svg+xml"
)

// Image is an avatar ready to serve.
type Image struct {
	ContentType string
	Data        []byte
	// Hash is the hex SHA-256 of Data; ETag and Version derive from it.
	Hash   string
	Width  int
	Height int
}

// ETag is the strong entity tag of the image.
func (i Image) ETag() string { return ETag(i.Hash) }

// Version is the short cache-busting token put in avatar URLs.
func (i Image) Version() string { return Version(i.Hash) }

// ETag is the strong entity tag for an image hash.
func ETag(hash string) string { return `"` + shorten(hash, 32) + `"` }

// Version is the short cache-busting token for an image hash.
func Version(hash string) string { return shorten(hash, 16) }

func shorten(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// Hash is the hex SHA-256 of data.
func Hash(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// Inspect accepts data as an avatar or says why not, as a 422 (code
// unsupported_image for a format other than PNG/JPEG/GIF/WebP, invalid_image
// for a damaged or oversized picture) or a 413 for more than MaxBytes.
func Inspect(data []byte) (Image, error) {
	if len(data) == 0 {
		return Image{}, apperr.Validation("invalid_image", "avatar file is empty")
	}
	if len(data) > MaxBytes {
		return Image{}, apperr.TooLarge("avatar_too_large", fmt.Sprintf("avatar must be at most %d bytes", MaxBytes))
	}
	ct := sniff(data)
	var (
		cfg image.Config
		err error
	)
	switch ct {
	case PNG:
		cfg, err = png.DecodeConfig(bytes.NewReader(data))
	case JPEG:
		cfg, err = jpeg.DecodeConfig(bytes.NewReader(data))
	case GIF:
		cfg, err = gif.DecodeConfig(bytes.NewReader(data))
	case WebP:
		cfg, err = webpConfig(data)
	default:
		return Image{}, apperr.Validation("unsupported_image",
			fmt.Sprintf("avatar must be a PNG, JPEG, GIF or WebP image (this file looks like %s)", ct))
	}
	if err != nil {
		return Image{}, apperr.Validation("invalid_image", "avatar is not a valid "+strings.TrimPrefix(ct, "image/")+" image")
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > MaxSide || cfg.Height > MaxSide {
		return Image{}, apperr.Validation("invalid_image",
			fmt.Sprintf("avatar must be between 1×1 and %d×%d pixels (got %d×%d)", MaxSide, MaxSide, cfg.Width, cfg.Height))
	}
	return Image{ContentType: ct, Data: data, Hash: Hash(data), Width: cfg.Width, Height: cfg.Height}, nil
}

// sniff names the type of data by its bytes. http.DetectContentType follows
// the WHATWG sniffing rules; the explicit RIFF/WEBP check makes WebP support
// independent of the Go version's sniffing table.
func sniff(data []byte) string {
	if isWebP(data) {
		return WebP
	}
	ct := http.DetectContentType(data)
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.TrimSpace(ct)
}

func isWebP(data []byte) bool {
	return len(data) >= 16 && string(data[0:4]) == "RIFF" && string(data[8:12]) == "WEBP" &&
		string(data[12:15]) == "VP8"
}

// webpConfig reads a WebP image's dimensions from its first chunk: lossy
// (VP8), lossless (VP8L) or extended (VP8X). The standard library has no
// WebP decoder, so this checks the container and header, not the pixels.
func webpConfig(data []byte) (image.Config, error) {
	if !isWebP(data) || len(data) < 20 {
		return image.Config{}, fmt.Errorf("webp: not a RIFF WebP container")
	}
	riffSize := binary.LittleEndian.Uint32(data[4:8])
	if uint64(riffSize)+8 > uint64(len(data)) || riffSize < 12 {
		return image.Config{}, fmt.Errorf("webp: truncated file")
	}
	le24 := func(b []byte) int { return int(b[0]) | int(b[1])<<8 | int(b[2])<<16 }
	switch string(data[12:16]) {
	case "VP8 ":
		// Frame tag (3 bytes, bit 0 clear for a key frame), start code, then
		// 14-bit width and height.
		if len(data) < 30 || data[20]&1 != 0 || !bytes.Equal(data[23:26], []byte{0x9d, 0x01, 0x2a}) {
			return image.Config{}, fmt.Errorf("webp: bad VP8 header")
		}
		w := int(binary.LittleEndian.Uint16(data[26:28]) & 0x3fff)
		h := int(binary.LittleEndian.Uint16(data[28:30]) & 0x3fff)
		return image.Config{Width: w, Height: h}, nil
	case "VP8L":
		if len(data) < 25 || data[20] != 0x2f {
			return image.Config{}, fmt.Errorf("webp: bad VP8L header")
		}
		bits := binary.LittleEndian.Uint32(data[21:25])
		return image.Config{Width: int(bits&0x3fff) + 1, Height: int(bits>>14&0x3fff) + 1}, nil
	case "VP8X":
		if len(data) < 30 {
			return image.Config{}, fmt.Errorf("webp: bad VP8X header")
		}
		return image.Config{Width: le24(data[24:27]) + 1, Height: le24(data[27:30]) + 1}, nil
	default:
		return image.Config{}, fmt.Errorf("webp: unknown chunk %q", data[12:16])
	}
}
