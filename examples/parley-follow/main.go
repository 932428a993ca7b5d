// Command parley-follow prints the messages of a Parley room as they arrive,
// over chat-service's WebSocket, authenticated with a personal access token.
//
//	PARLEY_WEB_URL=http://localhost:8080 PARLEY_TOKEN=parley_pat_12_… \
//	    parley-follow -room 1 -after-seq 0
//
// It finds the chat WebSocket's URLs in the web app's /config.json (or takes
// them from -ws), sends the token in the first `auth` frame, subscribes to
// the room and prints each message once, in seq order. When the connection
// drops it reconnects with exponential backoff and jitter, moving to the
// next chat replica, and resumes with after_seq = the last seq printed, so
// nothing is missed or repeated (docs/PROTOCOL.md, "Reconnecting").
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

type options struct {
	web        string   // the web app's URL, for /config.json
	ws         []string // chat WebSocket URLs; empty: from /config.json
	token      string
	room       int64
	afterSeq   int64 // -1: live messages only
	retries    int   // consecutive failed connections before giving up
	maxBackoff time.Duration
	json       bool
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	opts, err := parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "parley-follow:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	f := &follower{opts: opts, out: stdout, log: stderr, lastSeq: opts.afterSeq}
	err = f.run(ctx)
	if ctx.Err() != nil {
		return 0 // interrupted
	}
	fmt.Fprintln(stderr, "parley-follow:", err)
	return 1
}

func parse(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("parley-follow", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: parley-follow [flags] -room ID")
		fs.PrintDefaults()
	}
	var o options
	var ws string
	fs.StringVar(&o.web, "web", envOr("PARLEY_WEB_URL", "http://localhost:8080"), "the web app's URL, whose /config.json lists the chat WebSocket URLs (env PARLEY_WEB_URL)")
	fs.StringVar(&ws, "ws", os.Getenv("PARLEY_WS_URL"), "chat WebSocket URL(s), comma-separated, instead of /config.json (env PARLEY_WS_URL)")
	fs.StringVar(&o.token, "token", os.Getenv("PARLEY_TOKEN"), "a personal access token parley_pat_… (env PARLEY_TOKEN)")
	fs.Int64Var(&o.room, "room", 0, "the room's id (required)")
	fs.Int64Var(&o.afterSeq, "after-seq", -1, "first print the messages after this seq (0: the whole history); -1: only new ones")
	fs.IntVar(&o.retries, "retries", 10, "consecutive failed connections before giving up (0: do not reconnect)")
	fs.DurationVar(&o.maxBackoff, "max-backoff", 30*time.Second, "the longest wait between two connections")
	fs.BoolVar(&o.json, "json", false, "print each message as one line of JSON")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	switch {
	case o.token == "":
		return o, errors.New("no token: set PARLEY_TOKEN or -token")
	case !strings.HasPrefix(o.token, "parley_pat_"):
		return o, errors.New("the token is not a personal access token (parley_pat_…)")
	case o.room <= 0:
		return o, errors.New("-room must be a room id (a positive number)")
	case o.afterSeq < -1:
		return o, errors.New("-after-seq must be -1 or more")
	case o.retries < 0 || o.maxBackoff <= 0:
		return o, errors.New("-retries must be 0 or more and -max-backoff positive")
	}
	if ws != "" {
		urls, err := wsURLs(strings.Split(ws, ","))
		if err != nil {
			return o, fmt.Errorf("-ws: %w", err)
		}
		o.ws = urls
	} else if _, err := configURL(o.web); err != nil {
		return o, err
	}
	return o, nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// configURL is the web app's /config.json for web, which may carry a path.
func configURL(web string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(web))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("-web %q: want http(s)://host[:port]", web)
	}
	u.Path = strings.TrimRight(u.Path, "/") + "/config.json"
	u.RawQuery, u.Fragment = "", ""
	return u.String(), nil
}

// wsURLs checks and trims a list of ws:// or wss:// URLs, dropping empty
// entries and repeats.
func wsURLs(list []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, raw := range list {
		s := strings.TrimRight(strings.TrimSpace(raw), "/")
		if s == "" {
			continue
		}
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
			return nil, fmt.Errorf("%q is not a ws:// or wss:// URL", raw)
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no WebSocket URL")
	}
	return out, nil
}

// fetchWSURLs reads chat_ws_urls (or chat_ws_url) from the web app's
// /config.json.
func fetchWSURLs(ctx context.Context, web string) ([]string, error) {
	target, err := configURL(web)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", target, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("read %s: HTTP %d", target, resp.StatusCode)
	}
	var cfg struct {
		ChatWSURL  string   `json:"chat_ws_url"`
		ChatWSURLs []string `json:"chat_ws_urls"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&cfg); err != nil {
		return nil, fmt.Errorf("read %s: %w", target, err)
	}
	urls, err := wsURLs(append(cfg.ChatWSURLs, cfg.ChatWSURL))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", target, err)
	}
	return urls, nil
}

// backoff is the wait before connection attempt n+1 (n failures so far):
// step = min(max, 500 ms × 2ⁿ), and the wait is step/2 plus a random part
// of step/2 ("equal jitter"), as docs/PROTOCOL.md recommends.
func backoff(n int, max time.Duration) time.Duration {
	step := max
	if n < 16 {
		step = min(max, 500*time.Millisecond<<n)
	}
	return step/2 + mrand.N(step/2+1)
}

// closeError is the server closing the socket with a code.
type closeError struct {
	code   int
	reason string
}

func (e *closeError) Error() string {
	if e.reason == "" {
		return fmt.Sprintf("closed with %d", e.code)
	}
	return fmt.Sprintf("closed with %d %s", e.code, e.reason)
}

// fatalError ends the program, as reconnecting cannot help: a personal
// access token that was refused (revoked, expired, its account disabled)
// stays refused, a room that cannot be found stays so, and standard output
// that cannot be written stays so.
type fatalError struct{ err error }

func (e *fatalError) Error() string { return e.err.Error() }
func (e *fatalError) Unwrap() error { return e.err }

// retryDelay is how long to wait after a connection ended with err, given
// n consecutive failures; 1012 (a replica restarting) and 1013 (read too
// slowly) get a short random delay.
func retryDelay(err error, n int, max time.Duration) time.Duration {
	var ce *closeError
	if errors.As(err, &ce) && (ce.code == websocket.CloseServiceRestart || ce.code == websocket.CloseTryAgainLater) {
		return 100*time.Millisecond + mrand.N(time.Second)
	}
	return backoff(n, max)
}

type follower struct {
	opts     options
	out, log io.Writer
	lastSeq  int64 // the last seq printed; -1: none yet
}

// run connects, follows, and reconnects until ctx ends, a fatal error, or
// -retries connections in a row fail to reach `ready`.
func (f *follower) run(ctx context.Context) error {
	urls := f.opts.ws
	failures := 0
	next := 0
	for {
		if urls == nil || len(f.opts.ws) == 0 && failures > 0 {
			// Read /config.json again after a failure: the replicas may have moved.
			u, err := fetchWSURLs(ctx, f.opts.web)
			switch {
			case err == nil:
				if urls == nil {
					next = mrand.N(len(u))
				}
				urls = u
			case urls == nil:
				// No URL yet: counts as a failed attempt.
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if failures >= f.opts.retries {
					return err
				}
				failures++
				if err := f.wait(ctx, err, backoff(failures-1, f.opts.maxBackoff)); err != nil {
					return err
				}
				continue
			}
		}
		target := urls[next%len(urls)]
		next++
		ready, err := f.follow(ctx, target)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var fe *fatalError
		if errors.As(err, &fe) {
			return err
		}
		if ready {
			failures = 0
		}
		if failures >= f.opts.retries {
			if f.opts.retries == 0 {
				return err
			}
			return fmt.Errorf("giving up after %d failed connections: %w", failures+1, err)
		}
		failures++
		if err := f.wait(ctx, err, retryDelay(err, failures-1, f.opts.maxBackoff)); err != nil {
			return err
		}
	}
}

func (f *follower) wait(ctx context.Context, cause error, d time.Duration) error {
	fmt.Fprintf(f.log, "parley-follow: %v; reconnecting in %v\n", cause, d.Round(time.Millisecond))
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// frame is every server frame this program reads.
type frame struct {
	Type    string          `json:"type"`
	Message json.RawMessage `json:"message"`
	RoomID  int64           `json:"room_id"`
	LastSeq int64           `json:"last_seq"`
	More    bool            `json:"more"`
	Code    string          `json:"code"`
	User    struct {
		Username string `json:"username"`
	} `json:"user"`
}

type message struct {
	ID           int64  `json:"id"`
	RoomID       int64  `json:"room_id"`
	Seq          int64  `json:"seq"`
	Username     string `json:"username"`
	Body         string `json:"body"`
	CreatedAt    string `json:"created_at"`
	ThreadRootID *int64 `json:"thread_root_id"`
}

// The server pings every 25 s and drops a socket silent for 60 s; this side
// gives up on a socket from which nothing came for pongWait.
const (
	pongWait  = 70 * time.Second
	writeWait = 10 * time.Second
)

// follow runs one connection to target until it ends. ready tells whether
// the server accepted the token (which resets the backoff).
func (f *follower) follow(ctx context.Context, target string) (ready bool, err error) {
	dialer := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	conn, resp, err := dialer.DialContext(ctx, target, nil)
	if err != nil {
		if resp != nil {
			return false, fmt.Errorf("connect %s: HTTP %d", target, resp.StatusCode)
		}
		return false, fmt.Errorf("connect %s: %w", target, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() {
		_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		_ = conn.Close()
	})
	defer stop()
	conn.SetReadLimit(16 << 20)
	conn.SetPingHandler(func(data string) error {
		_ = conn.SetReadDeadline(time.Now().Add(pongWait))
		err := conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(writeWait))
		if errors.Is(err, websocket.ErrCloseSent) {
			return nil
		}
		return err
	})
	send := func(v any) error {
		_ = conn.SetWriteDeadline(time.Now().Add(writeWait))
		return conn.WriteJSON(v)
	}
	subscribe := func() error {
		sub := map[string]any{"type": "subscribe", "room_id": f.opts.room}
		if f.lastSeq >= 0 {
			sub["after_seq"] = f.lastSeq
		}
		return send(sub)
	}
	if err := send(map[string]string{"type": "auth", "token": f.opts.token}); err != nil {
		return false, err
	}
	catchingUp := false // a resubscription is on its way: drop messages past a gap
	for {
		_ = conn.SetReadDeadline(time.Now().Add(pongWait))
		_, data, err := conn.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				cerr := &closeError{code: ce.Code, reason: ce.Text}
				if ce.Code == 4401 || ce.Code == 4403 {
					// A PAT cannot be renewed: revoked, expired or disabled.
					return ready, &fatalError{fmt.Errorf("the token was refused (%w); create a new one", cerr)}
				}
				return ready, cerr
			}
			return ready, err
		}
		var fr frame
		if err := json.Unmarshal(data, &fr); err != nil {
			return ready, fmt.Errorf("unreadable frame: %w", err)
		}
		switch fr.Type {
		case "ready":
			if !ready {
				ready = true
				fmt.Fprintf(f.log, "parley-follow: connected to %s as %s\n", target, fr.User.Username)
				if err := subscribe(); err != nil {
					return ready, err
				}
			}
		case "subscribed":
			if fr.RoomID != f.opts.room {
				continue
			}
			if f.lastSeq < 0 {
				// Live only: start after the room's current end.
				f.lastSeq = fr.LastSeq
			}
			catchingUp = fr.More
			if fr.More {
				// The replay stopped at its cap: ask for the next part.
				if err := f.resubscribe(send, subscribe); err != nil {
					return ready, err
				}
				continue
			}
			fmt.Fprintf(f.log, "parley-follow: following room %d after seq %d\n", f.opts.room, f.lastSeq)
		case "message":
			var m message
			if err := json.Unmarshal(fr.Message, &m); err != nil {
				return ready, fmt.Errorf("unreadable message: %w", err)
			}
			if m.RoomID != f.opts.room || m.Seq <= f.lastSeq {
				continue // another room, or already printed
			}
			if f.lastSeq >= 0 && m.Seq > f.lastSeq+1 {
				// A gap: the messages in between come with a resubscription.
				if !catchingUp {
					catchingUp = true
					if err := f.resubscribe(send, subscribe); err != nil {
						return ready, err
					}
				}
				continue
			}
			f.lastSeq = m.Seq
			if err := f.print(m, fr.Message); err != nil {
				return ready, &fatalError{err}
			}
		case "error":
			if fr.Code == "room_not_found" {
				return ready, &fatalError{fmt.Errorf("room %d: room_not_found (no such room, or one you are not in)", f.opts.room)}
			}
			fmt.Fprintf(f.log, "parley-follow: server error %s: %s\n", fr.Code, data)
		}
	}
}

func (f *follower) resubscribe(send func(any) error, subscribe func() error) error {
	if err := send(map[string]any{"type": "unsubscribe", "room_id": f.opts.room}); err != nil {
		return err
	}
	return subscribe()
}

func (f *follower) print(m message, raw json.RawMessage) error {
	var err error
	if f.opts.json {
		_, err = fmt.Fprintf(f.out, "%s\n", raw)
	} else {
		thread := ""
		if m.ThreadRootID != nil {
			thread = fmt.Sprintf(" (in thread %d)", *m.ThreadRootID)
		}
		_, err = fmt.Fprintf(f.out, "#%d %s%s: %s\n", m.Seq, m.Username, thread, m.Body)
	}
	if err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}
