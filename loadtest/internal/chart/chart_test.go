package chart

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

func TestP99VsRateWritesPNG(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.png")
	err := P99VsRate(path, "test", 250, []Series{
		{Name: "a", Points: []Point{{200_000, 5}, {100_000, 2}, {300_000, 400}}},
		{Name: "b", Points: []Point{{150_000, 1}, {250_000, 0}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 400 || b.Dy() < 200 {
		t.Fatalf("image %v too small", b)
	}
	if err := P99VsRate(filepath.Join(t.TempDir(), "e.png"), "empty", 250, nil); err == nil {
		t.Fatal("an empty chart should be refused")
	}
}
