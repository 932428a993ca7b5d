package standin

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"sigs.k8s.io/yaml"
)

func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// missing skips (locally) or fails (CI) with a clear message, like
// deploy_test.go's helper of the same name.
func missing(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("CI is set and a prerequisite is missing: "+format, args...)
	}
	t.Skipf("skipping: "+format+" (set CI=1 to make this a failure)", args...)
}

func needPostgres(t *testing.T) hostPostgres {
	t.Helper()
	pg, err := findPostgres()
	if errors.Is(err, ErrNoPostgres) {
		missing(t, "%v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return pg
}

func needDocker(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("docker"); err != nil {
		missing(t, "docker not found in PATH (the postgres stand-in is a Docker image)")
	}
	if out, err := exec.Command("docker", "info").CombinedOutput(); err != nil {
		missing(t, "cannot talk to the Docker daemon: %v\n%s", err, tail(string(out), 5))
	}
}

func TestPostgresImageName(t *testing.T) {
	ref, err := (&Builder{Root: repoRoot(t), Log: t}).PostgresImage()
	if err != nil {
		t.Fatal(err)
	}
	if ref != "postgres:16-alpine" {
		t.Errorf("PostgresImage = %q, want postgres:16-alpine (k8s/postgres)", ref)
	}
	if _, err := (&Builder{Root: t.TempDir(), Log: t}).PostgresImage(); err == nil {
		t.Error("a directory without k8s/postgres gave an image")
	}
	if len(pgentrySource) == 0 {
		t.Error("the entrypoint's source is not embedded")
	}
}

// The rootfs holds what the manifest's pod needs, owned as the official
// image's, without the LLVM JIT.
func TestPostgresRootfs(t *testing.T) {
	pg := needPostgres(t)
	entry := filepath.Join(t.TempDir(), "entry")
	if err := os.WriteFile(entry, []byte("#!entry"), 0o755); err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writePostgresRootfs(pw, pg, entry, t)) }()
	headers := map[string]*tar.Header{}
	var passwd string
	tr := tar.NewReader(pr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(h.Name, "/")
		if _, dup := headers[name]; dup {
			t.Errorf("%s twice in the tar", name)
		}
		headers[name] = h
		if name == "etc/passwd" {
			data, _ := io.ReadAll(tr)
			passwd = string(data)
		}
	}
	bin := strings.TrimPrefix(pg.Bin, "/")
	for _, want := range []string{bin + "/postgres", bin + "/initdb", bin + "/pg_ctl", bin + "/psql", bin + "/pg_isready",
		"bin/sh", "lib64/ld-linux-x86-64.so.2", "usr/local/bin/docker-entrypoint", "usr/local/bin/docker-entrypoint.sh",
		strings.TrimPrefix(pg.Share, "/") + "/postgres.bki", "usr/share/zoneinfo/UTC", "etc/group",
		strings.TrimPrefix(pg.Lib, "/") + "/plpgsql.so", "docker-entrypoint-initdb.d", "tmp"} {
		if headers[want] == nil {
			t.Errorf("no %s in the image", want)
		}
	}
	for _, dir := range []string{"var/lib/postgresql/data", "var/run/postgresql"} {
		if h := headers[dir]; h == nil || h.Uid != 70 || h.Gid != 70 {
			t.Errorf("%s is not a directory of uid/gid 70: %+v", dir, h)
		}
	}
	if headers[strings.TrimPrefix(pg.Lib, "/")+"/llvmjit.so"] != nil {
		t.Error("the image carries the LLVM JIT")
	}
	if !strings.Contains(passwd, "postgres:x:70:70:") {
		t.Errorf("/etc/passwd has no postgres user 70: %q", passwd)
	}
}

// The stand-in runs as k8s/postgres runs postgres:16-alpine: uid 70, a
// read-only root, empty socket and /tmp directories, a data volume, the
// ConfigMap's init script, the password from the environment.
func TestPostgresStandIn(t *testing.T) {
	needDocker(t)
	needPostgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	root := repoRoot(t)
	b := &Builder{Root: root, Log: t}
	start := time.Now()
	ref, err := b.EnsurePostgres(ctx)
	if err != nil {
		t.Fatal(err)
	}
	size, _ := command(ctx, time.Minute, "", nil, "docker", "image", "inspect", "-f", "{{.Size}}", ref)
	t.Logf("%s ready in %s, %s bytes", ref, time.Since(start).Round(time.Millisecond), strings.TrimSpace(size))

	// The init scripts: the manifest's, one that records each run, and a
	// file that is not a script.
	initDir := filepath.Join(t.TempDir(), "init")
	if err := os.Mkdir(initDir, 0o755); err != nil {
		t.Fatal(err)
	}
	scripts := manifestInitScripts(t, root)
	scripts["20-runs.sql"] = "CREATE TABLE init_runs (at timestamptz NOT NULL DEFAULT now());\nINSERT INTO init_runs DEFAULT VALUES;\n"
	scripts["30-notes.txt"] = "not a script\n" // the official image ignores it too
	for name, body := range scripts {
		if err := os.WriteFile(filepath.Join(initDir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	name := fmt.Sprintf("parley-pgstandin-%d", os.Getpid())
	docker := func(args ...string) (string, error) {
		t.Helper()
		return command(ctx, 2*time.Minute, "", nil, "docker", args...)
	}
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := command(context.Background(), time.Minute, "", nil, "docker", "logs", name)
			t.Logf("container log:\n%s", tail(out, 60))
		}
		_, _ = command(context.Background(), time.Minute, "", nil, "docker", "rm", "-f", "-v", name)
		_, _ = command(context.Background(), time.Minute, "", nil, "docker", "volume", "rm", "-f", name)
	})
	const password = "stand-in-test-pw"
	if out, err := docker("run", "-d", "--name", name,
		"--user", "70:70", "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
		"--tmpfs", "/var/run/postgresql", "--tmpfs", "/tmp",
		"-v", name+":/var/lib/postgresql/data",
		"-v", initDir+":/docker-entrypoint-initdb.d:ro",
		"-e", "POSTGRES_USER=parley", "-e", "POSTGRES_PASSWORD="+password, "-e", "PGDATA=/var/lib/postgresql/data/pgdata",
		"-p", "127.0.0.1::5432", ref); err != nil {
		t.Fatalf("docker run: %v\n%s", err, out)
	}

	conn := connectWhenReady(ctx, t, name, password)
	var dbs []string
	rows, err := conn.Query(ctx, "SELECT datname FROM pg_database")
	if err == nil {
		dbs, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, db := range []string{"auth", "users", "chat", "parley"} {
		if !slices.Contains(dbs, db) {
			t.Errorf("no database %s: %q", db, dbs)
		}
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('before restart')"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)

	// A wrong password is refused: TCP needs the password (scram-sha-256).
	port, err := hostPort(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	bad, err := pgx.Connect(ctx, fmt.Sprintf("postgres://parley:wrong@127.0.0.1:%s/parley?sslmode=disable", port))
	var pgErr *pgconn.PgError
	if err == nil {
		bad.Close(ctx)
		t.Error("a wrong password was accepted")
	} else if !errors.As(err, &pgErr) || pgErr.Code != "28P01" {
		t.Errorf("a wrong password: %v, want invalid_password (28P01)", err)
	}
	// The manifest's probe.
	if out, err := docker("exec", name, "pg_isready", "-U", "parley", "-h", "127.0.0.1"); err != nil {
		t.Errorf("pg_isready: %v\n%s", err, out)
	}
	logs, _ := docker("logs", name)
	if !strings.Contains(logs, "ignoring /docker-entrypoint-initdb.d/30-notes.txt") {
		t.Errorf("no log line for the skipped script:\n%s", tail(logs, 30))
	}

	// A restart keeps the data and does not run the init scripts again.
	if out, err := docker("restart", name); err != nil {
		t.Fatalf("docker restart: %v\n%s", err, out)
	}
	conn = connectWhenReady(ctx, t, name, password)
	defer conn.Close(ctx)
	var kept string
	var runs int
	if err := conn.QueryRow(ctx, "SELECT v FROM kept").Scan(&kept); err != nil || kept != "before restart" {
		t.Errorf("after the restart: %q, %v", kept, err)
	}
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM init_runs").Scan(&runs); err != nil || runs != 1 {
		t.Errorf("the init scripts ran %d times (%v), want once", runs, err)
	}
	logs, _ = docker("logs", name)
	if !strings.Contains(logs, "Skipping initialization") {
		t.Errorf("the restart did not skip initialisation:\n%s", tail(logs, 30))
	}
}

// manifestInitScripts are the init scripts of k8s/postgres's ConfigMap.
func manifestInitScripts(t *testing.T, root string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, pgManifest))
	if err != nil {
		t.Fatal(err)
	}
	doc, _, _ := strings.Cut(string(data), "\n---")
	var cm struct {
		Kind string            `json:"kind"`
		Data map[string]string `json:"data"`
	}
	if err := yaml.Unmarshal([]byte(doc), &cm); err != nil {
		t.Fatal(err)
	}
	if cm.Kind != "ConfigMap" || cm.Data["10-databases.sql"] == "" {
		t.Fatalf("%s: the first document is not the init ConfigMap with 10-databases.sql", pgManifest)
	}
	return cm.Data
}

// hostPort is the loopback port Docker published the container's 5432 on
// (it may change across restarts).
func hostPort(ctx context.Context, name string) (string, error) {
	out, err := command(ctx, time.Minute, "", nil, "docker", "port", name, "5432/tcp")
	if err != nil {
		return "", fmt.Errorf("docker port: %v: %s", err, out)
	}
	addr, _, _ := strings.Cut(strings.TrimSpace(out), "\n")
	host, port, ok := strings.Cut(addr, ":")
	if !ok || host != "127.0.0.1" {
		return "", fmt.Errorf("docker port: %q, want 127.0.0.1:PORT", out)
	}
	return port, nil
}

// connectWhenReady connects as parley with the password, polling until the
// server accepts (the first start runs initdb and the init scripts), with a
// deadline; it fails at once when the container has stopped.
func connectWhenReady(ctx context.Context, t *testing.T, name, password string) *pgx.Conn {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for time.Now().Before(deadline) {
		state, _ := command(ctx, time.Minute, "", nil, "docker", "inspect", "-f", "{{.State.Status}}", name)
		if s := strings.TrimSpace(state); s != "running" && s != "restarting" {
			t.Fatalf("the container is %s", s)
		}
		port, err := hostPort(ctx, name) // unpublished while restarting
		if err == nil {
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			var conn *pgx.Conn
			conn, err = pgx.Connect(cctx, fmt.Sprintf("postgres://parley:%s@127.0.0.1:%s/parley?sslmode=disable", password, port))
			cancel()
			if err == nil {
				return conn
			}
		}
		lastErr = err
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
	t.Fatalf("the server did not accept a connection within 2 minutes: %v", lastErr)
	return nil
}
