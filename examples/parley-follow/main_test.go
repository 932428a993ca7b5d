package main

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestConfigURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://localhost:8080":          "http://localhost:8080/config.json",
		"https://chat.example.com/":      "https://chat.example.com/config.json",
		" https://example.com/parley/?x": "https://example.com/parley/config.json",
	} {
		if got, err := configURL(in); err != nil || got != want {
			t.Errorf("configURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "localhost:8080", "ws://host/", "http://", "::"} {
		if _, err := configURL(bad); err == nil {
			t.Errorf("configURL(%q) accepted", bad)
		}
	}
}

func TestWSURLs(t *testing.T) {
	got, err := wsURLs([]string{" ws://a:1/ws/ ", "", "wss://b/ws", "ws://a:1/ws"})
	if err != nil || !reflect.DeepEqual(got, []string{"ws://a:1/ws", "wss://b/ws"}) {
		t.Fatalf("wsURLs = %q, %v", got, err)
	}
	for _, bad := range [][]string{nil, {"", " "}, {"http://a/ws"}, {"ws://"}} {
		if _, err := wsURLs(bad); err == nil {
			t.Errorf("wsURLs(%q) accepted", bad)
		}
	}
}

func TestBackoffStaysInItsStep(t *testing.T) {
	max := 30 * time.Second
	for n := 0; n < 70; n++ {
		step := min(max, 500*time.Millisecond<<min(n, 16))
		for range 20 {
			if d := backoff(n, max); d < step/2 || d > step {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", n, d, step/2, step)
			}
		}
	}
}

func TestRetryDelayIsShortForRestarts(t *testing.T) {
	for _, code := range []int{websocket.CloseServiceRestart, websocket.CloseTryAgainLater} {
		if d := retryDelay(&closeError{code: code}, 10, 30*time.Second); d < 100*time.Millisecond || d > 1100*time.Millisecond {
			t.Errorf("after %d: %v", code, d)
		}
	}
	if d := retryDelay(errors.New("reset"), 10, 30*time.Second); d < 15*time.Second {
		t.Errorf("after a reset at attempt 10: %v", d)
	}
}

func TestParse(t *testing.T) {
	t.Setenv("PARLEY_TOKEN", "")
	t.Setenv("PARLEY_WS_URL", "")
	t.Setenv("PARLEY_WEB_URL", "")
	o, err := parse([]string{"-token", "parley_pat_1_x", "-room", "7", "-ws", "ws://a/ws,ws://b/ws"}, io.Discard)
	if err != nil || o.room != 7 || o.afterSeq != -1 || len(o.ws) != 2 || o.retries != 10 {
		t.Fatalf("parse = %+v, %v", o, err)
	}
	for _, args := range [][]string{
		{"-room", "7"},                              // no token
		{"-token", "eyJhbGciOi", "-room", "7"},      // not a PAT
		{"-token", "parley_pat_1_x"},                // no room
		{"-token", "parley_pat_1_x", "-room", "-3"}, // bad room
		{"-token", "parley_pat_1_x", "-room", "7", "-after-seq", "-2"},
		{"-token", "parley_pat_1_x", "-room", "7", "-retries", "-1"},
		{"-token", "parley_pat_1_x", "-room", "7", "-ws", "http://a/ws"},
		{"-token", "parley_pat_1_x", "-room", "7", "-web", "nowhere"},
		{"-token", "parley_pat_1_x", "-room", "7", "extra"},
	} {
		if _, err := parse(args, io.Discard); err == nil {
			t.Errorf("parse(%q) accepted", args)
		}
	}
}

func TestFetchWSURLs(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/config.json" {
			http.NotFound(w, r)
			return
		}
		_, _ = io.WriteString(w, `{"api_base_url":"http://gw","chat_ws_url":"ws://a/ws","chat_ws_urls":["ws://a/ws","ws://b/ws"]}`)
	}))
	defer srv.Close()
	got, err := fetchWSURLs(t.Context(), srv.URL)
	if err != nil || !reflect.DeepEqual(got, []string{"ws://a/ws", "ws://b/ws"}) {
		t.Fatalf("fetchWSURLs = %q, %v", got, err)
	}
	if _, err := fetchWSURLs(t.Context(), srv.URL+"/missing"); err == nil {
		t.Fatal("a 404 was accepted")
	}
}
