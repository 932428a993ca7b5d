package deploy

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Offline stand-ins for the two public images the deployment names.
//
// No image registry is reachable where these tests run, so before building
// with the real Dockerfiles the test provides, under the exact names the
// Dockerfiles and docker-compose.yml use:
//
//   - the Go builder (the Dockerfiles' default GO_IMAGE, golang:1.26-bookworm):
//     this machine's Go toolchain, a /bin/sh with mkdir and chmod copied from
//     the host, CA certificates, and a module cache pre-filled with exactly
//     what the services' `go mod download` needs (GOPROXY=off inside, so the
//     image builds are deterministic and offline);
//   - NATS (compose's nats:2.10-alpine): nats-server built from its Go module
//     into a scratch image whose entrypoint is the server.
//
// A real image under either name (one without our label) is used as it is.
// Our stand-ins carry a label with a hash of their inputs and are rebuilt
// when those change (a service's go.mod/go.sum, the Go version).
const (
	standInLabel   = "org.parleychat.stand-in"
	natsServerMod  = "github.com/nats-io/nats-server/v2"
	natsServerVer  = "v2.15.2"
	standInRecipe  = "4" // bump to force a rebuild when the recipe below changes
	goImagePathEnv = "PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

// dockerfileGoImage is the default GO_IMAGE of the service Dockerfiles.
func dockerfileGoImage(t testing.TB) string {
	t.Helper()
	re := regexp.MustCompile(`(?m)^ARG GO_IMAGE=(\S+)$`)
	image := ""
	for _, s := range services {
		data, err := os.ReadFile(filepath.Join(repoRoot(t), s.Name, "Dockerfile"))
		if err != nil {
			t.Fatal(err)
		}
		m := re.FindSubmatch(data)
		if m == nil {
			t.Fatalf("%s/Dockerfile: no ARG GO_IMAGE default", s.Name)
		}
		if image != "" && image != string(m[1]) {
			t.Fatalf("Dockerfiles disagree on GO_IMAGE: %s vs %s", image, m[1])
		}
		image = string(m[1])
	}
	return image
}

// imageLabel returns the image's label value; exists is false when there is
// no such image.
func imageLabel(t testing.TB, ref, label string) (value string, exists bool) {
	t.Helper()
	out, err := exec.Command("docker", "image", "inspect", "-f", fmt.Sprintf("{{index .Config.Labels %q}}", label), ref).Output()
	if err != nil {
		return "", false
	}
	v := strings.TrimSpace(string(out))
	if v == "<no value>" {
		v = ""
	}
	return v, true
}

// ensureStandIn builds an image with build() unless ref already exists as a
// real image or as our stand-in for the same inputs.
func ensureStandIn(t *testing.T, ref, key string, build func(ref, key string)) {
	t.Helper()
	label, exists := imageLabel(t, ref, standInLabel)
	switch {
	case exists && label == "":
		t.Logf("%s: using the real image", ref)
		return
	case exists && label == key:
		t.Logf("%s: stand-in up to date", ref)
		return
	}
	start := time.Now()
	build(ref, key)
	t.Logf("%s: stand-in built in %s", ref, time.Since(start).Round(time.Second))
	if exists {
		// The previous stand-in and the build stages made from it are
		// obsolete (they carry its label): reclaim their space. Twice, as a
		// parent only becomes dangling once its children are gone.
		for range 2 {
			_, _ = run(t, 5*time.Minute, "", nil, "docker", "image", "prune", "-f", "--filter", "label="+standInLabel+"="+label)
		}
	}
}

// goBuilderKey hashes everything the Go stand-in is made of.
func goBuilderKey(t testing.TB) string {
	t.Helper()
	h := sha256.New()
	fmt.Fprintln(h, "recipe", standInRecipe)
	v, err := exec.Command("go", "version").Output()
	if err != nil {
		t.Fatalf("go version: %v", err)
	}
	h.Write(v)
	for _, dir := range append([]string{"platform"}, serviceNames()...) {
		for _, f := range []string{"go.mod", "go.sum"} {
			data, err := os.ReadFile(filepath.Join(repoRoot(t), dir, f))
			if err != nil {
				t.Fatalf("%s/%s: %v", dir, f, err)
			}
			fmt.Fprintf(h, "%s/%s %x\n", dir, f, sha256.Sum256(data))
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:24]
}

func serviceNames() []string {
	var out []string
	for _, s := range services {
		out = append(out, s.Name)
	}
	return out
}

func goEnv(t testing.TB, name string) string {
	t.Helper()
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}

// buildGoStandIn imports a rootfs made from this machine's Go toolchain.
func buildGoStandIn(t *testing.T, ref, key string) {
	t.Helper()
	root := repoRoot(t)
	goroot := goEnv(t, "GOROOT")
	// 1. The module cache, filled the way the Dockerfiles fill it: `go mod
	//    download` in each service with GOWORK=off. The host's own module
	//    cache serves as the proxy first, so this is offline when it is warm.
	modcache := filepath.Join(t.TempDir(), "mod")
	proxy := "file://" + filepath.ToSlash(filepath.Join(goEnv(t, "GOMODCACHE"), "cache", "download"))
	if p := goEnv(t, "GOPROXY"); p != "" && p != "off" {
		proxy += "," + p
	}
	for _, s := range services {
		out, err := run(t, 10*time.Minute, filepath.Join(root, s.Name),
			[]string{"GOWORK=off", "GOMODCACHE=" + modcache, "GOPROXY=" + proxy, "GOFLAGS=-modcacherw", "GOSUMDB=off", "GOTOOLCHAIN=local"},
			"go", "mod", "download")
		if err != nil {
			t.Fatalf("go mod download in %s: %v\n%s", s.Name, err, out)
		}
	}
	// 2. The rootfs, streamed into `docker import`.
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(writeGoRootfs(pw, goroot, modcache))
	}()
	changes := []string{
		"ENV " + goImagePathEnv,
		"ENV GOLANG_VERSION=" + strings.TrimPrefix(goEnv(t, "GOVERSION"), "go"),
		"ENV GOPATH=/go",
		"ENV GOTOOLCHAIN=local",
		"ENV GOPROXY=off",
		"ENV GOSUMDB=off",
		"ENV HOME=/root",
		"WORKDIR /go",
		`CMD ["/bin/sh"]`,
	}
	// The rootfs is imported under a scratch name; only the finished image
	// (warmed, step 4) gets ref and the label that marks it up to date, so
	// a build cut short is rebuilt next time rather than taken as done.
	raw := fmt.Sprintf("parley-go-standin-partial:%d", os.Getpid())
	defer func() { _, _ = run(t, time.Minute, "", nil, "docker", "image", "rm", "-f", raw) }()
	args := []string{"import"}
	for _, c := range changes {
		args = append(args, "--change", c)
	}
	args = append(args, "-", raw)
	cmd := exec.Command("docker", args...)
	cmd.Stdin = bufio.NewReaderSize(pr, 1<<20)
	if out, err := cmd.CombinedOutput(); err != nil {
		pr.CloseWithError(err)
		t.Fatalf("docker import %s: %v\n%s", ref, err, out)
	}
	// 3. Smoke test: the image runs the shell and Go as the Dockerfiles will.
	out, err := run(t, time.Minute, root, nil, "docker", "run", "--rm", "--network", "none", raw,
		"sh", "-c", "mkdir -p /tmp/x && chmod 1777 /tmp/x && go version")
	if err != nil || !strings.Contains(out, "go version") {
		t.Fatalf("the Go stand-in image does not work: %v\n%s", err, out)
	}
	// 4. Warm its build cache with the standard library and every third-party
	//    package the services import, compiled with the Dockerfiles' flags
	//    (CGO_ENABLED=0, -trimpath), so each image build compiles only
	//    Parley's own packages instead of ~5 minutes of SQLite, gin, etc. on
	//    2 cores. A real golang image starts cold; this is only a cache.
	var script []string
	for _, s := range services {
		// Listed against the module cache just filled for the image, so
		// nothing is downloaded; only stdout is parsed (go prints
		// "go: downloading ..." progress on stderr).
		list := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{with .Module}}{{.Path}}{{end}}", ".")
		list.Dir = filepath.Join(root, s.Name)
		list.Env = append(os.Environ(), "GOWORK=off", "CGO_ENABLED=0", "GOMODCACHE="+modcache, "GOPROXY=off", "GOFLAGS=-modcacherw")
		var stderr bytes.Buffer
		list.Stderr = &stderr
		stdout, err := list.Output()
		if err != nil {
			t.Fatalf("go list -deps in %s: %v\n%s", s.Name, err, tail(stderr.String(), 20))
		}
		out := string(stdout)
		var pkgs []string
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Fields(line)
			if len(f) == 0 || (len(f) > 1 && strings.HasPrefix(f[1], "github.com/parleychat/")) {
				continue
			}
			pkgs = append(pkgs, f[0])
		}
		script = append(script, fmt.Sprintf("cd /src/%s && CGO_ENABLED=0 GOWORK=off go build -trimpath %s", s.Name, strings.Join(pkgs, " ")))
	}
	name := fmt.Sprintf("parley-go-warm-%d", os.Getpid())
	_, _ = run(t, time.Minute, "", nil, "docker", "rm", "-f", name)
	defer func() { _, _ = run(t, time.Minute, "", nil, "docker", "rm", "-f", name) }()
	out, err = run(t, 20*time.Minute, root, nil, "docker", "run", "--name", name, "--network", "none",
		"-v", root+":/src:ro", raw, "sh", "-c", strings.Join(script, " && "))
	if err != nil {
		t.Fatalf("warming the Go build cache: %v\n%s", err, tail(out, 40))
	}
	if out, err := run(t, 5*time.Minute, "", nil, "docker", "commit", "--change", `CMD ["/bin/sh"]`,
		"--change", "LABEL "+standInLabel+"="+key,
		"--change", `LABEL org.opencontainers.image.description="Offline stand-in for `+ref+` made by the parley deploy tests"`,
		name, ref); err != nil {
		t.Fatalf("docker commit: %v\n%s", err, out)
	}
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

// natsKey identifies the NATS stand-in's inputs.
func natsKey(t testing.TB) string {
	t.Helper()
	v, _ := exec.Command("go", "version").Output()
	sum := sha256.Sum256([]byte(standInRecipe + natsServerMod + natsServerVer + string(v)))
	return hex.EncodeToString(sum[:])[:24]
}

// buildNATSStandIn builds nats-server from its Go module into a scratch image.
func buildNATSStandIn(t *testing.T, ref, key string) {
	t.Helper()
	bin := t.TempDir()
	out, err := run(t, 10*time.Minute, bin,
		[]string{"GOBIN=" + bin, "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=-trimpath -modcacherw", "GOTOOLCHAIN=local"},
		"go", "install", "-ldflags=-s -w", natsServerMod+"@"+natsServerVer)
	if err != nil {
		t.Fatalf("go install %s@%s: %v\n%s", natsServerMod, natsServerVer, err, out)
	}
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "tmp/", Mode: 0o1777, ModTime: time.Unix(0, 0)})
		if err == nil {
			err = copyHostFile(tw, filepath.Join(bin, "nats-server"), "nats-server")
		}
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	cmd := exec.Command("docker", "import",
		"--change", `ENTRYPOINT ["/nats-server"]`,
		"--change", "EXPOSE 4222 8222",
		"--change", "LABEL "+standInLabel+"="+key,
		"--change", `LABEL org.opencontainers.image.description="Offline stand-in for `+ref+`: nats-server `+natsServerVer+` made by the parley deploy tests"`,
		"-", ref)
	cmd.Stdin = pr
	if out, err := cmd.CombinedOutput(); err != nil {
		pr.CloseWithError(err)
		t.Fatalf("docker import %s: %v\n%s", ref, err, out)
	}
}
