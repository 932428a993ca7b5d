package deploy

import (
	"errors"
	"flag"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// The five images are built once per run of this package. TestCompose
// builds them cold with `compose up --build` — that build is what it tests —
// and TestCluster, which runs beside it, waits for them and loads the very
// same images into its cluster. Run alone (go test -run TestCluster), the
// cluster test builds them itself the way a user without a registry does:
// scripts/offline-images.sh, then build-all.sh.
var builtImages = struct {
	once sync.Once
	done chan struct{}
	err  error
}{done: make(chan struct{})}

// imagesBuilt tells the waiting tests that the images exist (err nil) or
// will not (TestCompose failed or was skipped first). Only the first call
// counts.
func imagesBuilt(err error) {
	builtImages.once.Do(func() {
		builtImages.err = err
		close(builtImages.done)
	})
}

var errNoImages = errors.New("TestCompose stopped before its images were built")

// awaitImages returns once parley/<service>:e2e-test exist for every
// service, built from this tree.
func awaitImages(t *testing.T, root string) {
	t.Helper()
	if willRun("TestCompose") {
		t.Log("waiting for the images TestCompose builds")
		select {
		case <-builtImages.done:
		case <-time.After(60 * time.Minute):
			t.Fatal("TestCompose built no images within an hour")
		}
		if builtImages.err != nil {
			t.Fatalf("no images to load: %v", builtImages.err)
		}
		return
	}
	out, err := run(t, 40*time.Minute, root, nil, filepath.Join(root, "scripts", "offline-images.sh"))
	if err != nil {
		t.Fatalf("scripts/offline-images.sh: %v\n%s", err, tail(out, 40))
	}
	out, err = run(t, 40*time.Minute, root, []string{"VERSION=e2e"}, filepath.Join(root, "build-all.sh"), "-L", "-t", e2eTag)
	if err != nil {
		t.Fatalf("build-all.sh: %v\n%s", err, tail(out, 80))
	}
}

// willRun reports whether the top-level test name is selected by -run and
// not excluded by -skip in this invocation.
func willRun(name string) bool {
	matches := func(flagName string, unset bool) bool {
		f := flag.Lookup(flagName)
		if f == nil || f.Value.String() == "" {
			return unset
		}
		re, err := regexp.Compile(strings.Split(f.Value.String(), "/")[0])
		return err == nil && re.MatchString(name)
	}
	return matches("test.run", true) && !matches("test.skip", false)
}
