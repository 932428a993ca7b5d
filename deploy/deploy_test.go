package deploy

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/deploy/standin"
)

// The five services, their ports (ARCHITECTURE.md, Contract: Shape and ports) and data volumes.
type serviceSpec struct {
	Name     string
	Port     int
	DB       string // database file under DATA_DIR, "" when stateless
	NodePort int    // k8s/ NodePort, 0 when ClusterIP only
}

var services = []serviceSpec{
	{Name: "auth-service", Port: 5001, DB: "auth.db"},
	{Name: "user-service", Port: 5002, DB: "users.db"},
	{Name: "chat-service", Port: 5003, DB: "chat.db", NodePort: 30003},
	{Name: "api-gateway", Port: 5000, NodePort: 30000},
	{Name: "frontend", Port: 8080, NodePort: 30080},
}

func serviceByName(name string) (serviceSpec, bool) {
	for _, s := range services {
		if s.Name == name {
			return s, true
		}
	}
	return serviceSpec{}, false
}

// repoRoot is the repository root (the parent of this module).
func repoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test source")
	}
	return filepath.Dir(filepath.Dir(file))
}

// inCI reports whether the CI environment variable is set: missing tools are
// then failures, not skips (STYLE: "skips locally, fails when CI is set").
func inCI() bool { return os.Getenv("CI") != "" }

// needTool returns the path of a command, skipping the test locally or failing
// it in CI when the command is missing.
func needTool(t testing.TB, name, why string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		missing(t, "%s not found in PATH (%s)", name, why)
	}
	return p
}

// missing skips (locally) or fails (CI) with a clear message.
func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if inCI() {
		t.Fatalf("CI is set and a prerequisite is missing: "+format, args...)
	}
	t.Skipf("skipping: "+format+" (set CI=1 to make this a failure)", args...)
}

// run runs a command with a deadline and returns its combined output.
func run(t testing.TB, timeout time.Duration, dir string, env []string, name string, args ...string) (string, error) {
	t.Helper()
	return runEnv(t, timeout, dir, append(os.Environ(), env...), name, args...)
}

// runEnv is run with exactly the environment env.
func runEnv(t testing.TB, timeout time.Duration, dir string, env []string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.WaitDelay = 10 * time.Second
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		err = ctx.Err()
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

// composeCommands lists the Compose implementations installed here, Compose
// v2 (`docker compose`) first, then v1 (`docker-compose`).
func composeCommands() [][]string {
	var out [][]string
	if _, err := exec.LookPath("docker"); err == nil {
		if exec.Command("docker", "compose", "version").Run() == nil {
			out = append(out, []string{"docker", "compose"})
		}
	}
	if _, err := exec.LookPath("docker-compose"); err == nil {
		out = append(out, []string{"docker-compose"})
	}
	return out
}

// The stand-in builder fills its module cache for the same services.
func TestStandInServices(t *testing.T) {
	if got := standin.Services; !slices.Equal(got, serviceNamesOf(services)) {
		t.Errorf("standin.Services = %v, want %v", got, serviceNamesOf(services))
	}
}

func serviceNamesOf(specs []serviceSpec) []string {
	var out []string
	for _, s := range specs {
		out = append(out, s.Name)
	}
	return out
}
