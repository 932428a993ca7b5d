package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestWget(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte(`{"status":"ok"}`))
	}))
	defer srv.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	cases := []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"-q", "--spider", srv.URL + "/healthz"}, 0, ""},
		{[]string{"--spider", "-q", srv.URL + "/healthz"}, 0, ""},
		{[]string{"--spider", srv.URL + "/healthz"}, 0, "remote file exists"},
		{[]string{"-q", "--spider", srv.URL + "/other"}, 1, ""},
		{[]string{"--spider", srv.URL + "/other"}, 1, "503"},
		{[]string{"-q", "--spider", closed.URL + "/healthz"}, 1, ""},
		{[]string{"-q", srv.URL + "/healthz"}, 2, "usage"},
		{[]string{"-O", "x", "--spider", srv.URL}, 2, "unsupported argument"},
		{[]string{"-q", "--spider", srv.URL, srv.URL}, 2, "unsupported argument"},
	}
	for _, c := range cases {
		var stderr bytes.Buffer
		if code := run(c.args, &stderr); code != c.code {
			t.Errorf("wget %v: exit %d, want %d (%s)", c.args, code, c.code, stderr.String())
		}
		if c.stderr == "" && stderr.Len() > 0 || !strings.Contains(stderr.String(), c.stderr) {
			t.Errorf("wget %v: stderr %q, want %q", c.args, stderr.String(), c.stderr)
		}
	}
}
