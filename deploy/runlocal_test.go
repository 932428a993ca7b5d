package deploy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// runLocalEnv gives `make run` (scripts/run-local.sh) five free ports, as a
// user would with the services' own variables, and a data folder.
func runLocalEnv(t *testing.T) (env []string, ports []int) {
	t.Helper()
	for range 5 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
		ln.Close()
	}
	env = []string{
		fmt.Sprintf("AUTH_SERVICE_URL=http://localhost:%d", ports[0]),
		fmt.Sprintf("USER_SERVICE_URL=http://localhost:%d", ports[1]),
		fmt.Sprintf("CHAT_SERVICE_URL=http://localhost:%d", ports[2]),
		fmt.Sprintf("API_BASE_URL=http://localhost:%d", ports[3]),
		fmt.Sprintf("PORT=%d", ports[4]),
		"DATA_DIR=" + t.TempDir(), "BCRYPT_COST=4", "ADMIN_PASSWORD=admin-password-1", "LOG_LEVEL=warn",
	}
	return env, ports
}

func listening(port int) bool {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// `make run` takes its ports from the services' variables, refuses a busy
// port before starting anything, stops everything when a service fails to
// start, and stops everything on Ctrl-C.
func TestRunLocal(t *testing.T) {
	needTool(t, "go", "install Go")
	needTool(t, "curl", "apt-get install curl")
	root := repoRoot(t)
	script := filepath.Join(root, "scripts", "run-local.sh")

	t.Run("busy port", func(t *testing.T) {
		env, ports := runLocalEnv(t)
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", ports[4]))
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		out, err := run(t, time.Minute, root, env, script)
		if err == nil || !strings.Contains(out, fmt.Sprintf("port %d (frontend) is busy", ports[4])) || !strings.Contains(out, "PORT") {
			t.Fatalf("a busy port: err %v, output:\n%s", err, out)
		}
		for _, p := range ports[:4] {
			if listening(p) {
				t.Errorf("port %d is listening: something started", p)
			}
		}
	})

	t.Run("a service that fails to start", func(t *testing.T) {
		env, ports := runLocalEnv(t)
		env = append(env, "BCRYPT_COST=99") // auth-service refuses it
		out, err := run(t, 5*time.Minute, root, env, script)
		if err == nil || !strings.Contains(out, "auth-service exited at start") || strings.Contains(out, "Parley is running") {
			t.Fatalf("a failed start: err %v, output:\n%s", err, tail(out, 30))
		}
		for _, p := range ports {
			if listening(p) {
				t.Errorf("port %d still listening after the failed start", p)
			}
		}
	})

	t.Run("runs and stops on interrupt", func(t *testing.T) {
		env, ports := runLocalEnv(t)
		cmd := exec.Command(script)
		cmd.Dir = root
		cmd.Env = append(cmd.Environ(), env...)
		pr, pw := io.Pipe()
		cmd.Stdout, cmd.Stderr = pw, pw
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait(); pw.Close() }()
		t.Cleanup(func() { _ = cmd.Process.Kill() })
		running := make(chan string, 1)
		var (
			mu  sync.Mutex
			log strings.Builder
		)
		output := func() string { mu.Lock(); defer mu.Unlock(); return log.String() }
		go func() {
			sc := bufio.NewScanner(pr)
			for sc.Scan() {
				mu.Lock()
				log.WriteString(sc.Text() + "\n")
				mu.Unlock()
				if strings.HasPrefix(sc.Text(), "Parley is running") {
					select {
					case running <- sc.Text():
					default:
					}
				}
			}
		}()
		select {
		case line := <-running:
			if !strings.Contains(line, fmt.Sprintf("http://localhost:%d", ports[4])) || !strings.Contains(line, fmt.Sprintf("ws://localhost:%d/ws", ports[2])) {
				t.Errorf("banner names other ports: %s", line)
			}
		case err := <-done:
			t.Fatalf("run-local ended early: %v\n%s", err, output())
		case <-time.After(5 * time.Minute):
			t.Fatal("run-local did not start within 5 minutes")
		}
		for _, p := range ports {
			if !listening(p) {
				t.Errorf("port %d not listening while running", p)
			}
		}
		if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		select {
		case <-done:
		case <-time.After(time.Minute):
			t.Fatal("run-local did not stop on Ctrl-C")
		}
		for _, p := range ports {
			if listening(p) {
				t.Errorf("port %d still listening after Ctrl-C", p)
			}
		}
	})
}
