package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestMessagesURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://localhost:5000":          "http://localhost:5000/api/chat/rooms/7/messages",
		"https://api.example.com/":       "https://api.example.com/api/chat/rooms/7/messages",
		"https://example.com/parley?x=1": "https://example.com/parley/api/chat/rooms/7/messages",
	} {
		if got, err := messagesURL(in, 7); err != nil || got != want {
			t.Errorf("messagesURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "localhost:5000", "ftp://host", "http://"} {
		if _, err := messagesURL(bad, 7); err == nil {
			t.Errorf("messagesURL(%q) accepted", bad)
		}
	}
}

func TestParse(t *testing.T) {
	t.Setenv("PARLEY_TOKEN", "parley_pat_1_x")
	t.Setenv("PARLEY_URL", "")
	o, err := parse([]string{"-room", "3", "deploy", "done"}, nil, io.Discard)
	if err != nil || o.text != "deploy done" || o.room != 3 || o.base != "http://localhost:5000" {
		t.Fatalf("parse = %+v, %v", o, err)
	}
	if !strings.HasPrefix(o.id, "post-") || len(o.id) > 64 {
		t.Errorf("client_msg_id %q", o.id)
	}
	o, err = parse([]string{"-room", "3", "-id", "job-42", "-"}, strings.NewReader("from\nstdin\n"), io.Discard)
	if err != nil || o.text != "from\nstdin" || o.id != "job-42" {
		t.Fatalf("parse with stdin = %+v, %v", o, err)
	}
	for _, args := range [][]string{
		{"-room", "3"},          // no text
		{"-room", "3", "   "},   // blank text
		{"hello"},               // no room
		{"-room", "x", "hello"}, // bad room
		{"-room", "3", "-token", "eyJ", "hello"},
		{"-room", "3", "-url", "localhost", "hello"},
		{"-room", "3", "-retries", "-1", "hello"},
	} {
		if _, err := parse(args, strings.NewReader(""), io.Discard); err == nil {
			t.Errorf("parse(%q) accepted", args)
		}
	}
}

func TestBackoff(t *testing.T) {
	for n := range 10 {
		step := min(10*time.Second, 500*time.Millisecond<<min(n, 5))
		if d := backoff(n); d < step/2 || d > step {
			t.Errorf("backoff(%d) = %v", n, d)
		}
	}
}

func TestAPIErrorRetryable(t *testing.T) {
	for status, want := range map[int]bool{400: false, 401: false, 403: false, 404: false, 429: true, 500: true, 503: true} {
		if got := (&apiError{status: status}).retryable(); got != want {
			t.Errorf("%d retryable = %v", status, got)
		}
	}
}
