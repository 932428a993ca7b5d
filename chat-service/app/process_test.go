package app_test

import (
	"bytes"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parleychat/parley/platform/testkit"
)

// replicaProcess is a chat-service replica running as an OS process of its
// own (this test binary re-executed, see TestMain), so that it can die the
// way a machine or the OOM killer ends it: SIGKILL, with no shutdown code
// run, its sockets and database connections torn down by the kernel.
type replicaProcess struct {
	t    *testing.T
	name string
	env  map[string]string
	Port int
	URL  string

	starts int
	cmd    *exec.Cmd
	log    string // this run's combined stdout and stderr
	done   chan struct{}
	state  *os.ProcessState
}

// startReplicaProcess starts a replica with env (PORT is added when
// missing) and waits until its /readyz answers 200. Its output goes to a
// file that the test log shows when the test fails (or always with
// PARLEY_TEST_LOGS set). The process is stopped when the test ends,
// whatever happened: SIGTERM, then SIGKILL if it lingers.
func startReplicaProcess(t *testing.T, name string, env map[string]string) *replicaProcess {
	t.Helper()
	env = maps.Clone(env)
	if env["PORT"] == "" {
		env["PORT"] = strconv.Itoa(testkit.FreePort(t))
	}
	port, _ := strconv.Atoi(env["PORT"])
	p := &replicaProcess{t: t, name: name, env: env, Port: port, URL: "http://127.0.0.1:" + env["PORT"]}
	p.start()
	return p
}

// Restart starts the replica again, on the same port with the same
// configuration, after it died.
func (p *replicaProcess) Restart() {
	p.t.Helper()
	if p.running() {
		p.t.Fatalf("%s: restart while still running", p.name)
	}
	p.start()
}

func (p *replicaProcess) start() {
	t := p.t
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p.starts++
	p.log = filepath.Join(t.TempDir(), fmt.Sprintf("%s-%d.log", p.name, p.starts))
	out, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command(exe)
	cmd.Args = []string{"chat-service"}
	cmd.Dir = t.TempDir()
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = childEnv(p.env)
	cmd.SysProcAttr = childProcAttr()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", p.name, err)
	}
	done := make(chan struct{})
	p.cmd, p.done, p.state = cmd, done, nil
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	log := p.log
	t.Cleanup(func() { p.finish(cmd, done, log) })
	p.waitReady()
}

// childEnv is the replica's whole environment: its configuration and what
// a Go program needs, nothing else of the test's (no stray DATABASE_URL).
func childEnv(env map[string]string) []string {
	out := []string{replicaEnv + "=1"}
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "GORACE", "GOCOVERDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			out = append(out, k+"="+v)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out
}

func (p *replicaProcess) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

func (p *replicaProcess) waitReady() {
	p.t.Helper()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if !p.running() {
			p.t.Fatalf("%s exited before ready (%v):\n%s", p.name, p.cmd.ProcessState, tail(p.log, 40))
		}
		resp, err := client.Get(p.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.t.Fatalf("%s not ready after 20s:\n%s", p.name, tail(p.log, 40))
}

// Signal sends sig to the process.
func (p *replicaProcess) Signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("%v to %s: %v", sig, p.name, err)
	}
}

// Kill sends SIGKILL and waits until the process is gone.
func (p *replicaProcess) Kill() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		p.t.Fatalf("kill %s: %v", p.name, err)
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.t.Fatalf("%s still running 10s after SIGKILL", p.name)
	}
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		p.t.Fatalf("%s ended with %v, not by SIGKILL", p.name, p.cmd.ProcessState)
	}
}

// finish ends one run of the process at the test's end: a graceful stop
// (which must exit 0) when it still runs, then checks its output for data
// races and panics, and shows the output if the test failed.
func (p *replicaProcess) finish(cmd *exec.Cmd, done chan struct{}, log string) {
	t := p.t
	select {
	case <-done:
	default:
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
			if !t.Failed() && !cmd.ProcessState.Success() {
				t.Errorf("%s: exit after SIGTERM: %v", p.name, cmd.ProcessState)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("%s did not stop within 15s of SIGTERM; killing it", p.name)
			_ = cmd.Process.Kill()
			<-done
		}
	}
	raw, _ := os.ReadFile(log)
	for _, bad := range []string{"WARNING: DATA RACE", "panic:", "fatal error:"} {
		if bytes.Contains(raw, []byte(bad)) {
			t.Errorf("%s: %q in its output", filepath.Base(log), bad)
		}
	}
	if t.Failed() || os.Getenv("PARLEY_TEST_LOGS") != "" {
		t.Logf("output of %s (%v):\n%s", filepath.Base(log), cmd.ProcessState, tail(log, 200))
	}
}

// tail is the last n lines of a file.
func tail(path string, n int) string {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("… %d lines before", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}
