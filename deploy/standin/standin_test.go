package standin

import (
	"path/filepath"
	"runtime"
	"testing"
)

// The base image names come from the real Dockerfiles and compose file.
func TestImages(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	b := &Builder{Root: root, Log: t}
	goImage, natsImage, err := b.Images()
	if err != nil {
		t.Fatal(err)
	}
	if goImage != "golang:1.26-bookworm" || natsImage != "nats:2.10-alpine" {
		t.Errorf("images %q %q, want golang:1.26-bookworm and nats:2.10-alpine", goImage, natsImage)
	}
	if _, _, err := (&Builder{Root: t.TempDir(), Log: t}).Images(); err == nil {
		t.Error("a directory without Dockerfiles gave images")
	}
	if len(wgetSource) == 0 {
		t.Error("the wget probe's source is not embedded")
	}
}
