// Command offline-images provides the two public base images Parley's
// Docker build and compose file name (the Go builder golang:1.26-bookworm
// and nats:2.10-alpine) as offline stand-ins made from this machine's Go
// toolchain and module cache, unless real images already exist under those
// names. Then `docker-compose up --build` (or `docker compose up --build`)
// needs no registry. With -postgres it also provides k8s/postgres's
// postgres:16-alpine, made from this machine's PostgreSQL packages. See
// package standin; scripts/offline-images.sh runs it.
//
// Usage: go run ./cmd/offline-images [-root DIR] [-postgres]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/parleychat/parley/deploy/standin"
)

type stderrLog struct{}

func (stderrLog) Logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "offline-images: "+format+"\n", args...)
}

func main() {
	root := flag.String("root", "", "the repository root (default: the nearest parent directory holding docker-compose.yml)")
	postgres := flag.Bool("postgres", false, "also make k8s/postgres's PostgreSQL image from this machine's PostgreSQL packages (apt-get install postgresql)")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "offline-images: error: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	if err := run(*root, *postgres); err != nil {
		fmt.Fprintln(os.Stderr, "offline-images: error:", err)
		os.Exit(1)
	}
}

func run(root string, postgres bool) error {
	if root == "" {
		var err error
		if root, err = findRoot(); err != nil {
			return err
		}
	}
	root, err := filepath.Abs(root)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b := &standin.Builder{Root: root, Log: stderrLog{}}
	start := time.Now()
	if err := b.Ensure(ctx); err != nil {
		return err
	}
	goImage, natsImage, _ := b.Images()
	b.Log.Logf("%s and %s ready in %s; now run `docker-compose up --build` (or `docker compose up --build`)",
		goImage, natsImage, time.Since(start).Round(time.Second))
	if postgres {
		start := time.Now()
		ref, err := b.EnsurePostgres(ctx)
		if err != nil {
			return err
		}
		b.Log.Logf("%s ready in %s, for k8s/postgres (on K3s: docker save %s | sudo k3s ctr images import -)",
			ref, time.Since(start).Round(time.Second), ref)
	}
	return nil
}

// findRoot walks up from the working directory to docker-compose.yml.
func findRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "docker-compose.yml")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no docker-compose.yml in this directory or its parents: give -root")
		}
		dir = parent
	}
}
