package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// lineWait bounds every wait for a line of the example programs' output.
const lineWait = 30 * time.Second

// buildExamples builds examples/parley-post and examples/parley-follow (the
// repository's examples module, with or without go.work) into a temporary
// directory and returns their paths.
func buildExamples(t *testing.T) (post, follow string) {
	t.Helper()
	goBin, err := exec.LookPath("go") // go test puts its own go first on PATH
	if err != nil {
		t.Fatalf("go not found: %v", err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", dir+string(filepath.Separator), "./parley-post", "./parley-follow")
	cmd.Dir = filepath.Join("..", "examples")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build the examples: %v\n%s", err, out)
	}
	return filepath.Join(dir, "parley-post"), filepath.Join(dir, "parley-follow")
}

// exampleEnv is the environment for an example program: the test's own
// minus any PARLEY_ settings, plus extra.
func exampleEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PARLEY_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// runPost runs parley-post to completion and returns its exit code and output.
func runPost(t *testing.T, bin string, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), lineWait)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String(), errOut.String()
	} else if err != nil {
		t.Fatalf("run parley-post: %v", err)
	}
	return 0, out.String(), errOut.String()
}

// followed is a running parley-follow: its stdout lines on a channel, its
// stderr kept for failure messages; done is closed when it has exited
// with code.
type followed struct {
	cmd   *exec.Cmd
	lines chan string
	done  chan struct{}
	code  int
	mu    sync.Mutex
	log   bytes.Buffer
}

func (f *followed) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.log.Write(p)
}

func (f *followed) stderr() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.log.String()
}

func startFollow(t *testing.T, bin string, env []string, args ...string) *followed {
	t.Helper()
	f := &followed{lines: make(chan string, 100), done: make(chan struct{})}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stderr = f
	f.cmd = cmd
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start parley-follow: %v", err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			f.lines <- sc.Text()
		}
		close(f.lines)
		err := cmd.Wait()
		if ee, ok := err.(*exec.ExitError); ok {
			f.code = ee.ExitCode()
		} else if err != nil {
			f.code = -1
		}
		close(f.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // an error means it has exited already
		select {
		case <-f.done:
		case <-time.After(lineWait):
			t.Errorf("parley-follow did not exit")
		}
	})
	return f
}

// next is the follower's next line of output, within lineWait.
func (f *followed) next(t *testing.T, what string) string {
	t.Helper()
	select {
	case l, ok := <-f.lines:
		if !ok {
			t.Fatalf("%s: parley-follow exited; stderr:\n%s", what, f.stderr())
		}
		return l
	case <-time.After(lineWait):
		t.Fatalf("%s: no line within %v; stderr:\n%s", what, lineWait, f.stderr())
	}
	return ""
}

// The example programs against the real stack with a real personal access
// token: parley-follow (configured from the web app's /config.json) replays
// the room's history and prints what parley-post posts through the gateway,
// once even when a post is retried with the same client_msg_id; after
// chat-service restarts it reconnects and resumes from the last seq without
// a gap or a repeat; a revoked token ends it with a clear error.
func TestExamplesPostAndFollowWithPAT(t *testing.T) {
	postBin, followBin := buildExamples(t)
	s := startStack(t)
	anon := &api{t: t, base: s.Gateway.URL}
	pia, _ := register(t, anon, "pia")
	var pat patCreated
	pia.must(201, "POST", "/api/auth/tokens", map[string]any{"name": "examples", "expires_in_days": 1}, &pat)
	var rooms struct {
		Rooms []room `json:"rooms"`
	}
	pia.must(200, "GET", "/api/chat/rooms", nil, &rooms)
	if len(rooms.Rooms) == 0 {
		t.Fatal("no rooms")
	}
	roomID := strconv.FormatInt(rooms.Rooms[0].ID, 10)
	var before message
	pia.must(201, "POST", "/api/chat/rooms/"+roomID+"/messages", map[string]string{"body": "before the follower"}, &before)

	env := exampleEnv("PARLEY_URL="+s.Gateway.URL, "PARLEY_WEB_URL="+s.FrontendURL, "PARLEY_TOKEN="+pat.Token)

	// Follow from the seq before pia's message: the replay prints it.
	f := startFollow(t, followBin, env, "-room", roomID, "-after-seq", strconv.FormatInt(before.Seq-1, 10), "-max-backoff", "1s", "-retries", "30")
	want := fmt.Sprintf("#%d pia: before the follower", before.Seq)
	if l := f.next(t, "the replay"); l != want {
		t.Fatalf("replayed %q, want %q", l, want)
	}

	// Post with the PAT, twice with one client_msg_id: stored and printed once.
	code, out, errOut := runPost(t, postBin, env, "-room", roomID, "-id", "examples-1", "hello", "from", "parley-post")
	wantOut := fmt.Sprintf("to room %s\n", roomID)
	if code != 0 || !strings.HasPrefix(out, "posted message ") || !strings.HasSuffix(out, wantOut) {
		t.Fatalf("parley-post: exit %d, %q, stderr %q", code, out, errOut)
	}
	if code, again, errOut := runPost(t, postBin, env, "-room", roomID, "-id", "examples-1", "hello", "from", "parley-post"); code != 0 || again != out {
		t.Fatalf("the retried post: exit %d, %q (first %q), stderr %q", code, again, out, errOut)
	}
	if l := f.next(t, "the post"); l != fmt.Sprintf("#%d pia: hello from parley-post", before.Seq+1) {
		t.Fatalf("followed %q", l)
	}

	// chat-service restarts: the follower reconnects and resumes; the post
	// made meanwhile arrives once, right after the last one.
	s.restartChat(t)
	if code, out, errOut := runPost(t, postBin, env, "-room", roomID, "after", "the", "restart"); code != 0 {
		t.Fatalf("parley-post after the restart: exit %d, %q, stderr %q", code, out, errOut)
	}
	if l := f.next(t, "the post after the restart"); l != fmt.Sprintf("#%d pia: after the restart", before.Seq+2) {
		t.Fatalf("followed %q after the restart; stderr:\n%s", l, f.stderr())
	}
	if !strings.Contains(f.stderr(), "reconnecting in") {
		t.Errorf("no reconnection logged:\n%s", f.stderr())
	}

	// Bad input gets a clear error and exit code, not a panic.
	if code, _, errOut := runPost(t, postBin, env, "-room", roomID, "-token", pat.Token+"x", "nope"); code != 1 || !strings.Contains(errOut, "HTTP 401 invalid_token") {
		t.Errorf("a wrong token: exit %d, stderr %q", code, errOut)
	}
	if code, _, errOut := runPost(t, postBin, env, "-room", "999999", "nope"); code != 1 || !strings.Contains(errOut, "HTTP 404 room_not_found") {
		t.Errorf("no such room: exit %d, stderr %q", code, errOut)
	}
	if code, _, errOut := runPost(t, postBin, env, "nope"); code != 2 || !strings.Contains(errOut, "-room") {
		t.Errorf("no room: exit %d, stderr %q", code, errOut)
	}

	// Revoked: the socket is closed with 4401 and the follower stops, saying why.
	pia.must(204, "DELETE", fmt.Sprintf("/api/auth/tokens/%d", pat.ID), nil, nil)
	select {
	case <-f.done:
		if f.code != 1 || !strings.Contains(f.stderr(), "the token was refused") {
			t.Fatalf("parley-follow after the revocation: exit %d; stderr:\n%s", f.code, f.stderr())
		}
	case <-time.After(lineWait):
		t.Fatalf("parley-follow still running after the revocation; stderr:\n%s", f.stderr())
	}
	for l := range f.lines { // closed before done
		t.Errorf("a line after the revocation: %q", l)
	}
	t.Logf("parley-follow's log:\n%s", f.stderr())
}

// parley-follow over a replay larger than chat-service's cap (here 2): it
// subscribes again from the last seq after each `more: true` and prints the
// whole history once, in order, then live messages; an interrupt ends it
// with exit code 0.
func TestExamplesFollowPastTheReplayCap(t *testing.T) {
	_, followBin := buildExamples(t)
	s := startStack(t, map[string]string{"WS_MAX_REPLAY": "2"})
	anon := &api{t: t, base: s.Gateway.URL}
	pia, _ := register(t, anon, "pia")
	var pat patCreated
	pia.must(201, "POST", "/api/auth/tokens", map[string]any{"name": "examples"}, &pat)
	var rooms struct {
		Rooms []room `json:"rooms"`
	}
	pia.must(200, "GET", "/api/chat/rooms", nil, &rooms)
	if len(rooms.Rooms) == 0 {
		t.Fatal("no rooms")
	}
	roomID := strconv.FormatInt(rooms.Rooms[0].ID, 10)
	var posted []message
	for i := range 7 {
		var m message
		pia.must(201, "POST", "/api/chat/rooms/"+roomID+"/messages", map[string]string{"body": fmt.Sprintf("m%d", i)}, &m)
		posted = append(posted, m)
	}

	// The ws URL given directly, and no reconnection allowed.
	f := startFollow(t, followBin, exampleEnv("PARLEY_TOKEN="+pat.Token, "PARLEY_WS_URL="+s.ChatWS), "-room", roomID, "-after-seq", "0", "-retries", "0")
	for _, m := range posted {
		if l, want := f.next(t, "the history"), fmt.Sprintf("#%d pia: %s", m.Seq, m.Body); l != want {
			t.Fatalf("printed %q, want %q; stderr:\n%s", l, want, f.stderr())
		}
	}
	var live message
	pia.must(201, "POST", "/api/chat/rooms/"+roomID+"/messages", map[string]string{"body": "live"}, &live)
	if l, want := f.next(t, "the live message"), fmt.Sprintf("#%d pia: live", live.Seq); l != want {
		t.Fatalf("printed %q, want %q; stderr:\n%s", l, want, f.stderr())
	}

	if err := f.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case <-f.done:
		if f.code != 0 {
			t.Fatalf("exit %d after an interrupt; stderr:\n%s", f.code, f.stderr())
		}
	case <-time.After(lineWait):
		t.Fatal("parley-follow still running after an interrupt")
	}
	for l := range f.lines {
		t.Errorf("an extra line: %q", l)
	}
}
