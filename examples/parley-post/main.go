// Command parley-post posts one message into a Parley room with a personal
// access token, through the API gateway's REST API.
//
//	PARLEY_URL=http://localhost:5000 PARLEY_TOKEN=parley_pat_12_… \
//	    parley-post -room 1 deploy done
//
// The send is idempotent: every attempt carries the same client_msg_id
// (-id, or a random one), so a retry after a lost answer stores the message
// once (docs/API.md, POST /api/chat/rooms/{id}/messages). Network errors,
// 429 and 5xx answers are retried with backoff, -retries times at most.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
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
	"strconv"
	"strings"
	"syscall"
	"time"
)

type options struct {
	base    string // the gateway's URL
	token   string
	room    int64
	text    string
	id      string // client_msg_id
	thread  int64
	retries int
	timeout time.Duration
	json    bool
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	opts, err := parse(args, stdin, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "parley-post:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	msg, raw, err := post(ctx, opts, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "parley-post:", err)
		return 1
	}
	if opts.json {
		fmt.Fprintln(stdout, string(raw))
	} else {
		fmt.Fprintf(stdout, "posted message %d (seq %d) to room %d\n", msg.ID, msg.Seq, msg.RoomID)
	}
	return 0
}

func parse(args []string, stdin io.Reader, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("parley-post", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: parley-post [flags] -room ID text…   (text \"-\" reads standard input)")
		fs.PrintDefaults()
	}
	var o options
	fs.StringVar(&o.base, "url", envOr("PARLEY_URL", "http://localhost:5000"), "the API gateway's URL (env PARLEY_URL)")
	fs.StringVar(&o.token, "token", os.Getenv("PARLEY_TOKEN"), "a personal access token parley_pat_… (env PARLEY_TOKEN)")
	fs.Int64Var(&o.room, "room", 0, "the room's id (required)")
	fs.StringVar(&o.id, "id", "", "client_msg_id making the send idempotent (default: random)")
	fs.Int64Var(&o.thread, "thread", 0, "post as a reply in the thread of this message id")
	fs.IntVar(&o.retries, "retries", 3, "retries after a network error, 429 or 5xx (0: none)")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "time limit of each attempt")
	fs.BoolVar(&o.json, "json", false, "print the stored message as JSON")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	o.text = strings.Join(fs.Args(), " ")
	if o.text == "-" {
		b, err := io.ReadAll(io.LimitReader(stdin, 1<<20))
		if err != nil {
			return o, fmt.Errorf("read standard input: %w", err)
		}
		o.text = strings.TrimRight(string(b), "\n")
	}
	switch {
	case o.token == "":
		return o, errors.New("no token: set PARLEY_TOKEN or -token")
	case !strings.HasPrefix(o.token, "parley_pat_"):
		return o, errors.New("the token is not a personal access token (parley_pat_…)")
	case o.room <= 0:
		return o, errors.New("-room must be a room id (a positive number)")
	case strings.TrimSpace(o.text) == "":
		return o, errors.New("no text to post")
	case o.retries < 0 || o.timeout <= 0:
		return o, errors.New("-retries must be 0 or more and -timeout positive")
	}
	if _, err := messagesURL(o.base, o.room); err != nil {
		return o, err
	}
	if o.id == "" {
		o.id = newClientMsgID()
	}
	return o, nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// messagesURL is the gateway's POST /api/chat/rooms/{id}/messages for base,
// which may carry a path prefix (a gateway behind a reverse proxy).
func messagesURL(base string, room int64) (string, error) {
	u, err := url.Parse(strings.TrimSpace(base))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("-url %q: want http(s)://host[:port]", base)
	}
	u.Path = strings.TrimRight(u.Path, "/") + "/api/chat/rooms/" + strconv.FormatInt(room, 10) + "/messages"
	u.RawQuery, u.Fragment = "", ""
	return u.String(), nil
}

// newClientMsgID is a random id within the server's 64 characters.
func newClientMsgID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return "post-" + hex.EncodeToString(b)
}

type message struct {
	ID     int64  `json:"id"`
	RoomID int64  `json:"room_id"`
	Seq    int64  `json:"seq"`
	Body   string `json:"body"`
}

// apiError is a non-2xx answer: the error envelope's code and message.
type apiError struct {
	status        int
	code, message string
	retryAfter    time.Duration
}

func (e *apiError) Error() string {
	if e.code == "" {
		return fmt.Sprintf("HTTP %d", e.status)
	}
	return fmt.Sprintf("HTTP %d %s: %s", e.status, e.code, e.message)
}

func (e *apiError) retryable() bool { return e.status == 429 || e.status >= 500 }

func post(ctx context.Context, o options, stderr io.Writer) (message, []byte, error) {
	target, _ := messagesURL(o.base, o.room) // checked by parse
	req := map[string]any{"body": o.text, "client_msg_id": o.id}
	if o.thread > 0 {
		req["thread_root_id"] = o.thread
	}
	body, err := json.Marshal(req)
	if err != nil {
		return message{}, nil, err
	}
	client := &http.Client{Timeout: o.timeout}
	for attempt := 0; ; attempt++ {
		m, raw, err := postOnce(ctx, client, target, o.token, body)
		if err == nil {
			return m, raw, nil
		}
		var ae *apiError
		if (errors.As(err, &ae) && !ae.retryable()) || ctx.Err() != nil || attempt >= o.retries {
			return message{}, nil, err
		}
		wait := backoff(attempt)
		if ae != nil && ae.retryAfter > wait {
			wait = ae.retryAfter
		}
		fmt.Fprintf(stderr, "parley-post: %v; retrying in %v with the same client_msg_id\n", err, wait.Round(time.Millisecond))
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return message{}, nil, ctx.Err()
		}
	}
}

// backoff is the wait before retry n+1: exponential with equal jitter,
// from 500 ms up to 10 s.
func backoff(n int) time.Duration {
	step := 500 * time.Millisecond << min(n, 5)
	step = min(step, 10*time.Second)
	return step/2 + mrand.N(step/2+1)
}

func postOnce(ctx context.Context, client *http.Client, target, token string, body []byte) (message, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return message{}, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return message{}, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return message{}, nil, fmt.Errorf("read the answer: %w", err)
	}
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		ae := &apiError{status: resp.StatusCode}
		var env struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(raw, &env) == nil {
			ae.code, ae.message = env.Error.Code, env.Error.Message
		}
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			ae.retryAfter = time.Duration(s) * time.Second
		}
		return message{}, nil, ae
	}
	var m message
	if err := json.Unmarshal(raw, &m); err != nil || m.ID == 0 {
		return message{}, nil, fmt.Errorf("unexpected answer (HTTP %d): %.200s", resp.StatusCode, raw)
	}
	return m, bytes.TrimSpace(raw), nil
}
