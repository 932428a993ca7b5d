package chat_test

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"

	"github.com/parleychat/parley/chat-service/internal/chat"
)

// BenchmarkThumbnail decodes and scales a photo-like image to a
// thumbnail; ns/MP is the cost per megapixel of the source.
//
//	cd chat-service && go test -run '^$' -bench Thumbnail ./internal/chat
func BenchmarkThumbnail(b *testing.B) {
	for _, tt := range []struct {
		name string
		w, h int
		jpg  bool
	}{
		{"jpeg-1MP", 1280, 800, true},
		{"jpeg-12MP", 4000, 3000, true},
		{"png-1MP", 1280, 800, false},
		{"png-12MP", 4000, 3000, false},
	} {
		img := image.NewRGBA(image.Rect(0, 0, tt.w, tt.h))
		for y := 0; y < tt.h; y++ {
			for x := 0; x < tt.w; x++ {
				img.SetRGBA(x, y, color.RGBA{uint8(x ^ y), uint8(x * y >> 4), uint8(x + y), 255})
			}
		}
		var buf bytes.Buffer
		ctype := "image/png"
		if tt.jpg {
			jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85})
			ctype = "image/jpeg"
		} else {
			png.Encode(&buf, img)
		}
		data := buf.Bytes()
		b.Run(tt.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := chat.MakeThumbnail(bytes.NewReader(data), ctype); err != nil {
					b.Fatal(err)
				}
			}
			mp := float64(tt.w*tt.h) / 1e6
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/mp, "ns/MP")
		})
	}
}
