// Package bodyfuzz is what the services' FuzzJSONBodies targets share:
// the routes of a running service that take a body, the route an input
// names, the seeds every route must have, and the rule every answer must
// keep (docs/SECURITY.md, fuzzing).
package bodyfuzz

import (
	"bytes"
	"encoding/json"
	"flag"
	"hash/fnv"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/platform/testkit"
)

// Setup sends a request (in as JSON, if not nil) that must succeed,
// decoding the answer into out (when not nil).
func Setup(tb testing.TB, base, method, path, token string, in, out any) {
	tb.Helper()
	var b []byte
	if in != nil {
		var err error
		if b, err = json.Marshal(in); err != nil {
			tb.Fatal(err)
		}
	}
	status, _, raw := Send(tb, base, method, path, token, b)
	if status/100 != 2 {
		tb.Fatalf("%s %s: %d %s", method, path, status, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			tb.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
}

var client = &http.Client{Timeout: 10 * time.Second}

// Routes lists the running service's POST, PUT and PATCH routes,
// sorted, less those in skip; a skip entry that names no registered route
// fails, so the list cannot go stale.
func Routes(tb testing.TB, svc *testkit.Service, skip map[string]string) []string {
	tb.Helper()
	var out []string
	seen := map[string]bool{}
	for _, r := range svc.Routes() {
		key := r.Method + " " + r.Path
		seen[key] = true
		if _, ok := skip[key]; !ok && (r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch) {
			out = append(out, key)
		}
	}
	for k := range skip {
		if !seen[k] {
			tb.Fatalf("%s is listed as not fuzzed but is not a registered route", k)
		}
	}
	if len(out) == 0 {
		tb.Fatal("no route takes a body")
	}
	slices.Sort(out)
	return out
}

// Pick is the route named, or, for any other name (the fuzzer
// mutates the name too), one chosen by the name's hash.
func Pick(routes []string, name string) string {
	if slices.Contains(routes, name) {
		return name
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	return routes[h.Sum32()%uint32(len(routes))]
}

// CheckSeeds fails unless every route has a valid-* seed in
// testdata/fuzz/<target>.
func CheckSeeds(f *testing.F, routes []string) {
	f.Helper()
	dir := filepath.Join("testdata", "fuzz", f.Name())
	entries, err := os.ReadDir(dir)
	if err != nil {
		f.Fatal(err)
	}
	have := map[string]bool{}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "valid-") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			f.Fatal(err)
		}
		lines := strings.SplitN(string(b), "\n", 3)
		name, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[min(1, len(lines)-1)], "string("), ")"))
		if lines[0] != "go test fuzz v1" || err != nil {
			f.Fatalf("%s: not a seed of (string, []byte)", e.Name())
		}
		have[name] = true
	}
	for _, r := range routes {
		if !have[r] {
			f.Errorf("%s has no valid-* seed in %s", r, dir)
		}
	}
}

// Send posts body to base+path with method as JSON, with the bearer
// token when not empty, and returns the answer.
func Send(tb testing.TB, base, method, path, token string, body []byte) (status int, contentType string, raw []byte) {
	tb.Helper()
	req, err := http.NewRequest(method, base+path, bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		tb.Fatalf("%s %s with %q: %v", method, path, body, err)
	}
	defer resp.Body.Close()
	raw, err = io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s %s with %q: reading the answer: %v", method, path, body, err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), raw
}

// Check fails unless the answer is a 2xx with a JSON body (or
// none, for 204) or a 4xx JSON error envelope with a code and a message.
// A valid-* seed run as a normal test must be answered 2xx.
func Check(t *testing.T, route string, body []byte, status int, contentType string, raw []byte) {
	t.Helper()
	switch {
	case status == http.StatusNoContent:
		if len(raw) != 0 {
			t.Fatalf("%s with %q: 204 with a body: %q", route, body, raw)
		}
	case status/100 == 2:
		if !strings.HasPrefix(contentType, "application/json") || !json.Valid(raw) {
			t.Fatalf("%s with %q: %d %q, not JSON (%s)", route, body, status, raw, contentType)
		}
	case status/100 == 4:
		var e struct {
			Error *struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if !strings.HasPrefix(contentType, "application/json") || json.Unmarshal(raw, &e) != nil || e.Error == nil || e.Error.Code == "" || e.Error.Message == "" {
			t.Fatalf("%s with %q: %d %q, not the JSON error envelope (%s)", route, body, status, raw, contentType)
		}
	default:
		t.Fatalf("%s with %q: %d %s", route, body, status, raw)
	}
	if status/100 != 2 && strings.Contains(t.Name(), "/valid-") && !fuzzing() {
		t.Fatalf("%s with the valid seed %q: %d %s", route, body, status, raw)
	}
}

// fuzzing reports whether this process runs with -fuzz, where seeds run
// against a service that earlier inputs have changed.
func fuzzing() bool {
	fl := flag.Lookup("test.fuzz")
	return fl != nil && fl.Value.String() != ""
}
