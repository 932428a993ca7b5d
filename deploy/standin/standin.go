// Package standin makes offline stand-ins for the two public images Parley's
// deployment names, so `docker-compose up --build` works on a machine that
// reaches no image registry. It provides, under the exact names the
// Dockerfiles and docker-compose.yml use:
//
//   - the Go builder (the Dockerfiles' default GO_IMAGE, golang:1.26-bookworm):
//     this machine's Go toolchain, a /bin/sh with mkdir and chmod copied from
//     the host, CA certificates, and a module cache pre-filled with exactly
//     what the services' `go mod download` needs (GOPROXY=off inside, so the
//     image builds are deterministic and offline), its build cache warmed with
//     every third-party package the services compile;
//   - NATS (compose's nats:2.10-alpine): nats-server built from its Go module
//     into a scratch image whose entrypoint is the server, plus a tiny /bin/wget
//     (package wget) so compose's healthcheck, written for the real alpine
//     image's busybox wget, runs unchanged.
//
// A real image under either name (one without our label) is used as it is.
// Our stand-ins carry a label with a hash of their inputs and are rebuilt
// when those change (a service's go.mod/go.sum, the Go version, this recipe);
// the obsolete stand-in is then pruned.
//
// Everything comes from this machine: the Go toolchain and its module cache
// (the host's cache serves as the proxy first, then GOPROXY when it is set),
// the shell and tools, the CA bundle. cmd/offline-images and
// scripts/offline-images.sh run it; the compose end-to-end test runs that
// script.
package standin

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// Label marks our stand-ins; its value is the hash of their inputs.
const Label = "org.parleychat.stand-in"

const (
	natsServerMod  = "github.com/nats-io/nats-server/v2"
	natsServerVer  = "v2.15.2"
	recipe         = "5" // bump to force a rebuild when the recipe below changes
	goImagePathEnv = "PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

// Services are the directories with a Dockerfile; platform is the module
// they all require.
var Services = []string{"auth-service", "user-service", "chat-service", "api-gateway", "frontend"}

//go:embed wget/main.go
var wgetSource []byte

// Logger receives progress lines; *testing.T is one.
type Logger interface {
	Logf(format string, args ...any)
}

// Builder makes the stand-ins for the repository at Root.
type Builder struct {
	Root string // the repository root (holds docker-compose.yml)
	Log  Logger
}

// Images returns the two base image names: the Dockerfiles' default
// GO_IMAGE and compose's NATS image.
func (b *Builder) Images() (goImage, natsImage string, err error) {
	if goImage, err = b.GoImage(); err != nil {
		return "", "", err
	}
	natsImage, err = b.NATSImage()
	return goImage, natsImage, err
}

// Ensure provides both images.
func (b *Builder) Ensure(ctx context.Context) error {
	goImage, natsImage, err := b.Images()
	if err != nil {
		return err
	}
	goKey, err := b.goBuilderKey(ctx)
	if err != nil {
		return err
	}
	if err := b.ensure(ctx, goImage, goKey, b.buildGo); err != nil {
		return err
	}
	natsKey, err := natsKey(ctx)
	if err != nil {
		return err
	}
	return b.ensure(ctx, natsImage, natsKey, b.buildNATS)
}

// GoImage is the default GO_IMAGE of the service Dockerfiles (they must agree).
func (b *Builder) GoImage() (string, error) {
	re := regexp.MustCompile(`(?m)^ARG GO_IMAGE=(\S+)$`)
	image := ""
	for _, s := range Services {
		data, err := os.ReadFile(filepath.Join(b.Root, s, "Dockerfile"))
		if err != nil {
			return "", err
		}
		m := re.FindSubmatch(data)
		if m == nil {
			return "", fmt.Errorf("%s/Dockerfile: no ARG GO_IMAGE default", s)
		}
		if image != "" && image != string(m[1]) {
			return "", fmt.Errorf("the Dockerfiles disagree on GO_IMAGE: %s vs %s", image, m[1])
		}
		image = string(m[1])
	}
	return image, nil
}

// NATSImage is the image of docker-compose.yml's nats service.
func (b *Builder) NATSImage() (string, error) {
	data, err := os.ReadFile(filepath.Join(b.Root, "docker-compose.yml"))
	if err != nil {
		return "", err
	}
	var c struct {
		Services map[string]struct {
			Image string `json:"image"`
		} `json:"services"`
	}
	if err := yaml.Unmarshal(data, &c); err != nil {
		return "", fmt.Errorf("docker-compose.yml: %w", err)
	}
	if img := c.Services["nats"].Image; img != "" {
		return img, nil
	}
	return "", errors.New("docker-compose.yml: the nats service names no image")
}

// ImageLabel returns the image's value of label; exists is false when there
// is no such image.
func ImageLabel(ctx context.Context, ref, label string) (value string, exists bool) {
	out, err := exec.CommandContext(ctx, "docker", "image", "inspect", "-f", fmt.Sprintf("{{index .Config.Labels %q}}", label), ref).Output()
	if err != nil {
		return "", false
	}
	v := strings.TrimSpace(string(out))
	if v == "<no value>" {
		v = ""
	}
	return v, true
}

// ensure builds an image with build unless ref already exists as a real
// image or as our stand-in for the same inputs.
func (b *Builder) ensure(ctx context.Context, ref, key string, build func(ctx context.Context, ref, key string) error) error {
	label, exists := ImageLabel(ctx, ref, Label)
	switch {
	case exists && label == "":
		b.Log.Logf("%s: using the real image", ref)
		return nil
	case exists && label == key:
		b.Log.Logf("%s: stand-in up to date", ref)
		return nil
	}
	b.Log.Logf("%s: building the stand-in", ref)
	start := time.Now()
	if err := build(ctx, ref, key); err != nil {
		return fmt.Errorf("%s: %w", ref, err)
	}
	b.Log.Logf("%s: stand-in built in %s", ref, time.Since(start).Round(time.Second))
	if exists {
		// The previous stand-in and the build stages made from it are
		// obsolete (they carry its label): reclaim their space. Twice, as a
		// parent only becomes dangling once its children are gone.
		for range 2 {
			_, _ = command(ctx, 5*time.Minute, "", nil, "docker", "image", "prune", "-f", "--filter", "label="+Label+"="+label)
		}
	}
	return nil
}

// command runs a command with a deadline and returns its combined output.
func command(ctx context.Context, timeout time.Duration, dir string, env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 10 * time.Second
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		err = fmt.Errorf("%s %s: timed out after %s", name, strings.Join(args, " "), timeout)
	}
	return out.String(), err
}

// tail returns the last n lines of s, for error messages.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func goEnv(ctx context.Context, name string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", name).Output()
	if err != nil {
		return "", fmt.Errorf("go env %s: %w", name, err)
	}
	return strings.TrimSpace(string(out)), nil
}

func goVersion(ctx context.Context) ([]byte, error) {
	v, err := exec.CommandContext(ctx, "go", "version").Output()
	if err != nil {
		return nil, fmt.Errorf("go version: %w", err)
	}
	return v, nil
}

// goBuilderKey hashes everything the Go stand-in is made of.
func (b *Builder) goBuilderKey(ctx context.Context) (string, error) {
	h := sha256.New()
	fmt.Fprintln(h, "recipe", recipe)
	v, err := goVersion(ctx)
	if err != nil {
		return "", err
	}
	h.Write(v)
	for _, dir := range append([]string{"platform"}, Services...) {
		for _, f := range []string{"go.mod", "go.sum"} {
			data, err := os.ReadFile(filepath.Join(b.Root, dir, f))
			if err != nil {
				return "", err
			}
			fmt.Fprintf(h, "%s/%s %x\n", dir, f, sha256.Sum256(data))
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:24], nil
}

// natsKey identifies the NATS stand-in's inputs.
func natsKey(ctx context.Context) (string, error) {
	v, err := goVersion(ctx)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(recipe + natsServerMod + natsServerVer + string(v) + string(wgetSource)))
	return hex.EncodeToString(sum[:])[:24], nil
}

// modProxy is GOPROXY for filling a fresh module cache: the host's own
// module cache first, so this is offline when it is warm.
func modProxy(ctx context.Context) (string, error) {
	modcache, err := goEnv(ctx, "GOMODCACHE")
	if err != nil {
		return "", err
	}
	proxy := "file://" + filepath.ToSlash(filepath.Join(modcache, "cache", "download"))
	p, err := goEnv(ctx, "GOPROXY")
	if err != nil {
		return "", err
	}
	if p != "" && p != "off" {
		proxy += "," + p
	}
	return proxy, nil
}

// buildGo imports a rootfs made from this machine's Go toolchain.
func (b *Builder) buildGo(ctx context.Context, ref, key string) error {
	goroot, err := goEnv(ctx, "GOROOT")
	if err != nil {
		return err
	}
	goVer, err := goEnv(ctx, "GOVERSION")
	if err != nil {
		return err
	}
	proxy, err := modProxy(ctx)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "parley-standin-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	// 1. The module cache, filled the way the Dockerfiles fill it: `go mod
	//    download` in each service with GOWORK=off.
	modcache := filepath.Join(tmp, "mod")
	b.Log.Logf("%s: filling a module cache for %s", ref, strings.Join(Services, ", "))
	for _, s := range Services {
		out, err := command(ctx, 10*time.Minute, filepath.Join(b.Root, s),
			[]string{"GOWORK=off", "GOMODCACHE=" + modcache, "GOPROXY=" + proxy, "GOFLAGS=-modcacherw", "GOSUMDB=off", "GOTOOLCHAIN=local"},
			"go", "mod", "download")
		if err != nil {
			return fmt.Errorf("go mod download in %s (is the module cache warm, or the Go proxy reachable?): %v\n%s", s, err, tail(out, 20))
		}
	}
	// 2. The rootfs, streamed into `docker import` under a scratch name; only
	//    the finished image (warmed, step 4) gets ref and the label that
	//    marks it up to date, so a build cut short is rebuilt next time
	//    rather than taken as done.
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(writeGoRootfs(pw, goroot, modcache))
	}()
	changes := []string{
		"ENV " + goImagePathEnv,
		"ENV GOLANG_VERSION=" + strings.TrimPrefix(goVer, "go"),
		"ENV GOPATH=/go",
		"ENV GOTOOLCHAIN=local",
		"ENV GOPROXY=off",
		"ENV GOSUMDB=off",
		"ENV HOME=/root",
		"WORKDIR /go",
		`CMD ["/bin/sh"]`,
	}
	raw := fmt.Sprintf("parley-go-standin-partial:%d", os.Getpid())
	defer func() { _, _ = command(context.Background(), time.Minute, "", nil, "docker", "image", "rm", "-f", raw) }()
	args := []string{"import"}
	for _, c := range changes {
		args = append(args, "--change", c)
	}
	args = append(args, "-", raw)
	b.Log.Logf("%s: importing the toolchain, shell and module cache", ref)
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Stdin = bufio.NewReaderSize(pr, 1<<20)
	if out, err := cmd.CombinedOutput(); err != nil {
		pr.CloseWithError(err)
		return fmt.Errorf("docker import: %v\n%s", err, out)
	}
	// 3. Smoke test: the image runs the shell and Go as the Dockerfiles will.
	out, err := command(ctx, time.Minute, "", nil, "docker", "run", "--rm", "--network", "none", raw,
		"sh", "-c", "mkdir -p /tmp/x && chmod 1777 /tmp/x && go version")
	if err != nil || !strings.Contains(out, "go version") {
		return fmt.Errorf("the Go stand-in image does not work: %v\n%s", err, out)
	}
	// 4. Warm its build cache with the standard library and every third-party
	//    package the services import, compiled with the Dockerfiles' flags
	//    (CGO_ENABLED=0, -trimpath), so each image build compiles only
	//    Parley's own packages instead of ~5 minutes of SQLite, gin, etc. on
	//    2 cores. A real golang image starts cold; this is only a cache.
	var script []string
	for _, s := range Services {
		pkgs, err := thirdPartyDeps(ctx, filepath.Join(b.Root, s), modcache)
		if err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
		script = append(script, fmt.Sprintf("cd /src/%s && CGO_ENABLED=0 GOWORK=off go build -trimpath %s", s, strings.Join(pkgs, " ")))
	}
	name := fmt.Sprintf("parley-go-warm-%d", os.Getpid())
	_, _ = command(ctx, time.Minute, "", nil, "docker", "rm", "-f", name)
	defer func() { _, _ = command(context.Background(), time.Minute, "", nil, "docker", "rm", "-f", name) }()
	b.Log.Logf("%s: warming its build cache (the services' third-party packages)", ref)
	out, err = command(ctx, 20*time.Minute, b.Root, nil, "docker", "run", "--name", name, "--network", "none",
		"-v", b.Root+":/src:ro", raw, "sh", "-c", strings.Join(script, " && "))
	if err != nil {
		return fmt.Errorf("warming the Go build cache: %v\n%s", err, tail(out, 40))
	}
	if out, err := command(ctx, 5*time.Minute, "", nil, "docker", "commit", "--change", `CMD ["/bin/sh"]`,
		"--change", "LABEL "+Label+"="+key,
		"--change", `LABEL org.opencontainers.image.description="Offline stand-in for `+ref+` made by scripts/offline-images.sh"`,
		name, ref); err != nil {
		return fmt.Errorf("docker commit: %v\n%s", err, out)
	}
	return nil
}

// thirdPartyDeps lists the non-Parley packages the module in dir builds,
// against modcache (already filled, so nothing is downloaded).
func thirdPartyDeps(ctx context.Context, dir, modcache string) ([]string, error) {
	list := exec.CommandContext(ctx, "go", "list", "-deps", "-f", "{{.ImportPath}} {{with .Module}}{{.Path}}{{end}}", ".")
	list.Dir = dir
	list.Env = append(os.Environ(), "GOWORK=off", "CGO_ENABLED=0", "GOMODCACHE="+modcache, "GOPROXY=off", "GOFLAGS=-modcacherw")
	var stderr bytes.Buffer
	list.Stderr = &stderr // go prints "go: downloading ..." progress here
	stdout, err := list.Output()
	if err != nil {
		return nil, fmt.Errorf("go list -deps: %v\n%s", err, tail(stderr.String(), 20))
	}
	var pkgs []string
	for _, line := range strings.Split(strings.TrimSpace(string(stdout)), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || (len(f) > 1 && strings.HasPrefix(f[1], "github.com/parleychat/")) {
			continue
		}
		pkgs = append(pkgs, f[0])
	}
	return pkgs, nil
}

// writeGoRootfs writes the Go builder's filesystem as a tar stream.
func writeGoRootfs(w io.Writer, goroot, modcache string) error {
	tw := tar.NewWriter(w)
	dir := func(name string, mode int64) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, ModTime: time.Unix(0, 0)})
	}
	file := func(name string, mode int64, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: time.Unix(0, 0)}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	for _, d := range []string{"bin", "etc", "etc/ssl", "etc/ssl/certs", "usr", "usr/local", "root", "go", "go/bin", "go/pkg", "lib", "lib64", "usr/lib", "lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu"} {
		if err := dir(d, 0o755); err != nil {
			return err
		}
	}
	if err := dir("tmp", 0o1777); err != nil {
		return err
	}
	if err := file("etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\n")); err != nil {
		return err
	}
	if err := file("etc/group", 0o644, []byte("root:x:0:\n")); err != nil {
		return err
	}
	ca, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	if err != nil {
		return fmt.Errorf("CA bundle: %w", err)
	}
	if err := file("etc/ssl/certs/ca-certificates.crt", 0o644, ca); err != nil {
		return err
	}
	// The shell and the two tools the Dockerfiles' RUN lines use, with the
	// shared libraries ldd reports for them.
	seen := map[string]bool{}
	for _, tool := range []struct{ name, at string }{{"sh", "bin/sh"}, {"mkdir", "bin/mkdir"}, {"chmod", "bin/chmod"}} {
		p, err := exec.LookPath(tool.name)
		if err != nil {
			return fmt.Errorf("%s: %w", tool.name, err)
		}
		if err := copyHostFile(tw, p, tool.at); err != nil {
			return err
		}
		out, _ := exec.Command("ldd", p).Output() // a static binary has none
		for _, lib := range regexp.MustCompile(`(/\S+\.so[.\d]*)`).FindAllString(string(out), -1) {
			if seen[lib] {
				continue
			}
			seen[lib] = true
			if err := copyHostFile(tw, lib, strings.TrimPrefix(lib, "/")); err != nil {
				return err
			}
		}
	}
	// GOROOT (without its own test suite) and the module cache.
	if err := addTree(tw, goroot, "usr/local/go", func(rel string) bool { return rel == "test" }); err != nil {
		return err
	}
	if err := addTree(tw, modcache, "go/pkg/mod", nil); err != nil {
		return err
	}
	return tw.Close()
}

// copyHostFile adds a host file (symlinks followed) at name.
func copyHostFile(tw *tar.Writer, path, name string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: int64(fi.Mode().Perm()), Size: int64(len(data)), ModTime: time.Unix(0, 0)}); err != nil {
		return err
	}
	_, err = tw.Write(data)
	return err
}

// addTree adds the tree under src at dst, skipping top-level entries for which skip is true.
func addTree(tw *tar.Writer, src, dst string, skip func(rel string) bool) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if rel != "." && skip != nil && skip(filepath.ToSlash(rel)) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		name := dst
		if rel != "." {
			name = dst + "/" + filepath.ToSlash(rel)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		hdr.Name = name
		if d.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "root", "root"
		hdr.ModTime = info.ModTime()
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if info.Mode().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			if _, err := io.Copy(tw, f); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
		}
		return nil
	})
}

// buildNATS builds nats-server from its Go module, and the wget probe, into
// a scratch image.
func (b *Builder) buildNATS(ctx context.Context, ref, key string) error {
	proxy, err := modProxy(ctx)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "parley-standin-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "bin")
	env := []string{"GOBIN=" + bin, "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=-trimpath -modcacherw", "GOTOOLCHAIN=local", "GOPROXY=" + proxy}
	b.Log.Logf("%s: building nats-server %s", ref, natsServerVer)
	out, err := command(ctx, 10*time.Minute, tmp, env, "go", "install", "-ldflags=-s -w", natsServerMod+"@"+natsServerVer)
	if err != nil {
		return fmt.Errorf("go install %s@%s (is the module cache warm, or the Go proxy reachable?): %v\n%s", natsServerMod, natsServerVer, err, tail(out, 20))
	}
	// The healthcheck's wget: its source, embedded here, as a module of its own.
	src := filepath.Join(tmp, "wget")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte("module wget\n\ngo 1.22\n"), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(src, "main.go"), wgetSource, 0o644); err != nil {
		return err
	}
	if out, err := command(ctx, 5*time.Minute, src, env, "go", "build", "-ldflags=-s -w", "-o", filepath.Join(bin, "wget"), "."); err != nil {
		return fmt.Errorf("building the wget probe: %v\n%s", err, tail(out, 20))
	}
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "tmp/", Mode: 0o1777, ModTime: time.Unix(0, 0)})
		if err == nil {
			err = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "bin/", Mode: 0o755, ModTime: time.Unix(0, 0)})
		}
		if err == nil {
			err = copyHostFile(tw, filepath.Join(bin, "nats-server"), "nats-server")
		}
		if err == nil {
			err = copyHostFile(tw, filepath.Join(bin, "wget"), "bin/wget")
		}
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	cmd := exec.CommandContext(ctx, "docker", "import",
		"--change", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"--change", `ENTRYPOINT ["/nats-server"]`,
		"--change", "EXPOSE 4222 8222",
		"--change", "LABEL "+Label+"="+key,
		"--change", `LABEL org.opencontainers.image.description="Offline stand-in for `+ref+`: nats-server `+natsServerVer+` made by scripts/offline-images.sh"`,
		"-", ref)
	cmd.Stdin = pr
	if out, err := cmd.CombinedOutput(); err != nil {
		pr.CloseWithError(err)
		return fmt.Errorf("docker import: %v\n%s", err, out)
	}
	return nil
}
