package standin

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// The PostgreSQL stand-in (opt-in: EnsurePostgres) is for k8s/postgres, whose
// StatefulSet runs postgres:16-alpine. It is made from this machine's Debian
// or Ubuntu PostgreSQL packages (apt-get install postgresql), whatever their
// major version: their server and client programs with the shared libraries
// ldd names (and the dynamic loader), the server's modules (without the LLVM
// JIT, which would add ~100 MB: JIT is then off, as PostgreSQL does silently
// when its provider cannot load), the share directory, the system time zone
// database the packages are built against, /bin/sh for pg_ctl, an
// /etc/passwd and /etc/group naming uid/gid 70 postgres, and package pgentry
// as the entrypoint in place of the official docker-entrypoint.sh.
const (
	pgRecipe      = "1" // bump to force a rebuild when the recipe below changes
	pgPackageRoot = "/usr/lib/postgresql"
	pgShareRoot   = "/usr/share/postgresql"
	pgTZData      = "/usr/share/zoneinfo"
	pgManifest    = "k8s/postgres/50-postgres.yaml"
)

// pgTools are the programs the image carries: the server, what the
// entrypoint runs, the probe, and the dump tools for manual backups.
var pgTools = []string{"postgres", "initdb", "pg_ctl", "psql", "pg_isready", "pg_dump", "pg_dumpall", "pg_restore"}

//go:embed pgentry/main.go
var pgentrySource []byte

// PostgresImage is the image of k8s/postgres's StatefulSet.
func (b *Builder) PostgresImage() (string, error) {
	data, err := os.ReadFile(filepath.Join(b.Root, pgManifest))
	if err != nil {
		return "", err
	}
	for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(data), -1) {
		var o struct {
			Kind string `json:"kind"`
			Spec struct {
				Template struct {
					Spec struct {
						Containers []struct {
							Name  string `json:"name"`
							Image string `json:"image"`
						} `json:"containers"`
					} `json:"spec"`
				} `json:"template"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			return "", fmt.Errorf("%s: %w", pgManifest, err)
		}
		if o.Kind != "StatefulSet" {
			continue
		}
		for _, c := range o.Spec.Template.Spec.Containers {
			if c.Name == "postgres" && c.Image != "" {
				return c.Image, nil
			}
		}
	}
	return "", fmt.Errorf("%s: no StatefulSet with a postgres container", pgManifest)
}

// EnsurePostgres provides PostgresImage: a real image under that name is
// used as it is, else our stand-in is built (or kept when up to date). It
// returns the image reference.
func (b *Builder) EnsurePostgres(ctx context.Context) (ref string, err error) {
	if ref, err = b.PostgresImage(); err != nil {
		return "", err
	}
	pg, err := findPostgres()
	if err != nil {
		return "", err
	}
	key, err := pg.key(ctx)
	if err != nil {
		return "", err
	}
	return ref, b.ensure(ctx, ref, key, func(ctx context.Context, ref, key string) error {
		return b.buildPostgres(ctx, pg, ref, key)
	})
}

// hostPostgres is a PostgreSQL installation of this machine's packages.
type hostPostgres struct {
	Major   string // "15"
	Bin     string // /usr/lib/postgresql/15/bin
	Lib     string // /usr/lib/postgresql/15/lib
	Share   string // /usr/share/postgresql/15
	Version string // postgres --version, e.g. "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
}

// ErrNoPostgres means this machine has no PostgreSQL packages to make the
// stand-in from.
var ErrNoPostgres = errors.New("no PostgreSQL server on this machine (" + pgPackageRoot + "/*/bin/postgres): " +
	"install it, e.g. apt-get install postgresql")

// findPostgres picks the newest major version installed.
func findPostgres() (hostPostgres, error) {
	matches, _ := filepath.Glob(filepath.Join(pgPackageRoot, "*", "bin", "postgres"))
	best, bestN := "", -1
	for _, m := range matches {
		major := filepath.Base(filepath.Dir(filepath.Dir(m)))
		if n, err := strconv.Atoi(major); err == nil && n > bestN {
			best, bestN = major, n
		}
	}
	if best == "" {
		return hostPostgres{}, ErrNoPostgres
	}
	pg := hostPostgres{
		Major: best,
		Bin:   filepath.Join(pgPackageRoot, best, "bin"),
		Lib:   filepath.Join(pgPackageRoot, best, "lib"),
		Share: filepath.Join(pgShareRoot, best),
	}
	for _, t := range pgTools {
		if _, err := os.Stat(filepath.Join(pg.Bin, t)); err != nil {
			return hostPostgres{}, fmt.Errorf("%s: %w (install the server and client packages, e.g. apt-get install postgresql)", t, err)
		}
	}
	for _, d := range []string{pg.Share, pgTZData} {
		if _, err := os.Stat(d); err != nil {
			return hostPostgres{}, fmt.Errorf("PostgreSQL needs %s: %w", d, err)
		}
	}
	out, err := exec.Command(filepath.Join(pg.Bin, "postgres"), "--version").Output()
	if err != nil {
		return hostPostgres{}, fmt.Errorf("postgres --version: %w", err)
	}
	pg.Version = strings.TrimSpace(string(out))
	return pg, nil
}

// key identifies the stand-in's inputs: the packages' version, the Go
// version that builds the entrypoint, its source and this recipe.
func (pg hostPostgres) key(ctx context.Context) (string, error) {
	v, err := goVersion(ctx)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "postgres recipe %s\n%s\n%s\n", pgRecipe, pg.Version, v)
	h.Write(pgentrySource)
	return hex.EncodeToString(h.Sum(nil))[:24], nil
}

// release is the version number in pg.Version ("15.18").
func (pg hostPostgres) release() string {
	if m := regexp.MustCompile(`\(PostgreSQL\) (\S+)`).FindStringSubmatch(pg.Version); m != nil {
		return m[1]
	}
	return pg.Major
}

func (b *Builder) buildPostgres(ctx context.Context, pg hostPostgres, ref, key string) error {
	proxy, err := modProxy(ctx)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "parley-standin-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	// The entrypoint: its source, embedded here, as a module of its own.
	src := filepath.Join(tmp, "pgentry")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte("module pgentry\n\ngo 1.22\n"), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(src, "main.go"), pgentrySource, 0o644); err != nil {
		return err
	}
	entry := filepath.Join(tmp, "docker-entrypoint")
	env := []string{"CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=-trimpath -modcacherw", "GOTOOLCHAIN=local", "GOPROXY=" + proxy}
	if out, err := command(ctx, 5*time.Minute, src, env, "go", "build", "-ldflags=-s -w", "-o", entry, "."); err != nil {
		return fmt.Errorf("building the entrypoint: %v\n%s", err, tail(out, 20))
	}
	b.Log.Logf("%s: importing %s with its libraries", ref, pg.Version)
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(writePostgresRootfs(pw, pg, entry, b.Log))
	}()
	// Imported under a scratch name: only the finished image gets ref and
	// the label that marks it up to date. docker import cannot set
	// STOPSIGNAL, so a one-line build on top of it does.
	raw := fmt.Sprintf("parley-postgres-standin-partial:%d", os.Getpid())
	defer func() { _, _ = command(context.Background(), time.Minute, "", nil, "docker", "image", "rm", raw) }()
	path := "PATH=" + filepath.ToSlash(pg.Bin) + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	cmd := exec.CommandContext(ctx, "docker", "import",
		"--change", "ENV "+path,
		"--change", "ENV PG_MAJOR="+pg.Major,
		"--change", "ENV PG_VERSION="+pg.release(),
		"--change", "ENV PGDATA=/var/lib/postgresql/data",
		"--change", "VOLUME /var/lib/postgresql/data",
		"--change", `ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]`,
		"--change", "EXPOSE 5432",
		"--change", `CMD ["postgres"]`,
		"-", raw)
	cmd.Stdin = pr
	if out, err := cmd.CombinedOutput(); err != nil {
		pr.CloseWithError(err)
		return fmt.Errorf("docker import: %v\n%s", err, out)
	}
	// SIGINT is PostgreSQL's fast shutdown (SIGTERM waits for every
	// client to leave), as in the official image.
	dockerfile := fmt.Sprintf("FROM %s\nSTOPSIGNAL SIGINT\nLABEL %s=%s\nLABEL org.opencontainers.image.description=%q\n",
		raw, Label, key, "Offline stand-in for "+ref+": "+pg.Version+" from this machine, made by scripts/offline-images.sh --postgres")
	build := exec.CommandContext(ctx, "docker", "build", "-q", "-t", ref, "-")
	build.Stdin = strings.NewReader(dockerfile)
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("docker build: %v\n%s", err, out)
	}
	// Smoke test: every program finds its libraries, as the uid the
	// manifest runs, on a read-only root.
	var checks []string
	for _, t := range pgTools {
		checks = append(checks, t+" --version")
	}
	out, err := command(ctx, time.Minute, "", nil, "docker", "run", "--rm", "--network", "none", "--user", "70:70", "--read-only",
		"--entrypoint", "/bin/sh", ref, "-c", strings.Join(checks, " && "))
	if err != nil || strings.Count(out, pg.release()) < len(pgTools) {
		_, _ = command(context.Background(), time.Minute, "", nil, "docker", "image", "rm", "-f", ref)
		return fmt.Errorf("the postgres stand-in image does not work: %v\n%s", err, tail(out, 20))
	}
	return nil
}

// writePostgresRootfs writes the stand-in's filesystem as a tar stream.
func writePostgresRootfs(w io.Writer, pg hostPostgres, entrypoint string, log Logger) error {
	tw := tar.NewWriter(w)
	epoch := time.Unix(0, 0)
	dir := func(name string, mode int64, uid int) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, Uid: uid, Gid: uid, ModTime: epoch})
	}
	file := func(name string, mode int64, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: epoch}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	rel := func(p string) string { return strings.TrimPrefix(filepath.ToSlash(p), "/") }
	// Every parent directory of what follows, root-owned; then the
	// directories postgres writes, owned by it with the official image's
	// modes (a fresh Docker volume copies them).
	dirs := map[string]bool{}
	addParents := func(p string) {
		for d := filepath.Dir(p); d != "/" && d != "."; d = filepath.Dir(d) {
			dirs[rel(d)] = true
		}
	}
	// (addTree writes the share and time zone directories themselves.)
	for _, p := range []string{pg.Bin + "/x", pg.Lib + "/x", pg.Share, pgTZData, "/bin/sh", "/etc/passwd", "/usr/local/bin/x", "/var/lib/postgresql/x", "/var/run/x"} {
		addParents(p)
	}
	// The programs, the server's modules and the libraries they all need.
	var binaries []string
	for _, t := range pgTools {
		binaries = append(binaries, filepath.Join(pg.Bin, t))
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		return fmt.Errorf("sh (pg_ctl starts the server through /bin/sh): %w", err)
	}
	modules, err := filepath.Glob(filepath.Join(pg.Lib, "*.so"))
	if err != nil {
		return err
	}
	libs := map[string]bool{}
	var keptModules []string
	for _, bin := range append(append(binaries, sh), modules...) {
		deps, err := sharedLibs(bin)
		if err != nil {
			if filepath.Dir(bin) == pg.Lib {
				// A module whose library is not installed cannot load in
				// the image either; it is left out.
				log.Logf("leaving out %s: %v", filepath.Base(bin), err)
				continue
			}
			return err
		}
		if filepath.Base(bin) == "llvmjit.so" {
			continue // ~100 MB of LLVM; PostgreSQL runs without JIT when it is missing
		}
		if filepath.Dir(bin) == pg.Lib {
			keptModules = append(keptModules, bin)
		}
		for _, l := range deps {
			libs[l] = true
		}
	}
	sortedLibs := make([]string, 0, len(libs))
	for l := range libs {
		sortedLibs = append(sortedLibs, l)
		addParents(l)
	}
	sort.Strings(sortedLibs)
	sortedDirs := make([]string, 0, len(dirs))
	for d := range dirs {
		sortedDirs = append(sortedDirs, d)
	}
	sort.Strings(sortedDirs)
	for _, d := range sortedDirs {
		if d == "var/lib/postgresql" {
			continue // below, owned by postgres
		}
		if err := dir(d, 0o755, 0); err != nil {
			return err
		}
	}
	for _, d := range []struct {
		name string
		mode int64
		uid  int
	}{
		{"tmp", 0o1777, 0},
		{"docker-entrypoint-initdb.d", 0o755, 0},
		{"var/lib/postgresql", 0o755, 70},
		{"var/lib/postgresql/data", 0o1777, 70},
		{"var/run/postgresql", 0o3777, 70},
	} {
		if err := dir(d.name, d.mode, d.uid); err != nil {
			return err
		}
	}
	for _, f := range []struct{ name, data string }{
		{"etc/passwd", "root:x:0:0:root:/root:/sbin/nologin\npostgres:x:70:70:PostgreSQL:/var/lib/postgresql:/bin/sh\n"},
		{"etc/group", "root:x:0:\npostgres:x:70:\n"},
		{"etc/nsswitch.conf", "passwd: files\ngroup: files\nhosts: files dns\n"},
	} {
		if err := file(f.name, 0o644, []byte(f.data)); err != nil {
			return err
		}
	}
	for _, l := range sortedLibs {
		if err := copyHostFile(tw, l, rel(l)); err != nil {
			return err
		}
	}
	if err := copyHostFile(tw, sh, "bin/sh"); err != nil {
		return err
	}
	for _, bin := range append(binaries, keptModules...) {
		if err := copyHostFile(tw, bin, rel(bin)); err != nil {
			return err
		}
	}
	if err := copyHostFile(tw, entrypoint, "usr/local/bin/docker-entrypoint"); err != nil {
		return err
	}
	// The official image's entrypoint name, for anything that calls it.
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "usr/local/bin/docker-entrypoint.sh", Linkname: "docker-entrypoint", Mode: 0o777, ModTime: epoch}); err != nil {
		return err
	}
	// The share directory (without manual pages), with the official image's
	// change to the sample configuration: listen on all addresses.
	sample := "postgresql.conf.sample"
	if err := addTree(tw, pg.Share, rel(pg.Share), func(r string) bool { return r == "man" || r == sample }); err != nil {
		return err
	}
	conf, err := os.ReadFile(filepath.Join(pg.Share, sample))
	if err != nil {
		return err
	}
	listen := regexp.MustCompile(`(?m)^#?listen_addresses = 'localhost'`)
	if !listen.Match(conf) {
		return fmt.Errorf("%s: no listen_addresses line to change", sample)
	}
	conf = listen.ReplaceAll(conf, []byte("listen_addresses = '*'"))
	if err := file(rel(pg.Share)+"/"+sample, 0o644, conf); err != nil {
		return err
	}
	if err := addTree(tw, pgTZData, rel(pgTZData), nil); err != nil {
		return err
	}
	return tw.Close()
}

// sharedLibs lists the libraries (and the dynamic loader) ldd reports for a
// binary; a static binary has none. A library ldd cannot find is an error.
func sharedLibs(path string) ([]string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("ldd", path)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil && !strings.Contains(stdout.String()+stderr.String(), "not a dynamic executable") {
		return nil, fmt.Errorf("ldd %s: %v %s", path, err, stderr.String())
	}
	var libs []string
	for _, line := range strings.Split(stdout.String(), "\n") {
		if strings.Contains(line, "not found") {
			return nil, fmt.Errorf("%s: %s", path, strings.TrimSpace(line))
		}
		if m := regexp.MustCompile(`(/\S+\.so[.\d]*)`).FindString(line); m != "" {
			libs = append(libs, m)
		}
	}
	return libs, nil
}
