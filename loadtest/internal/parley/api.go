// Package parley is the harness's client of a running Parley: accounts and
// rooms through the gateway's HTTP API, and a file of registered users so
// several runs can share one population instead of registering it again.
package parley

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
)

// API calls the gateway.
type API struct {
	Base   string // e.g. http://127.0.0.1:5000
	Client *http.Client
}

// NewAPI returns an API with a pooled client sized for conc concurrent
// callers.
func NewAPI(base string, conc int) *API {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = conc * 2
	tr.MaxIdleConnsPerHost = conc * 2
	return &API{Base: base, Client: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// StatusError is a non-2xx answer.
type StatusError struct {
	Method, Path string
	Status       int
	Body         string
	RetryAfter   time.Duration
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Status, e.Body)
}

// Do sends a JSON request and decodes a JSON answer into out (when not nil).
func (a *API) Do(ctx context.Context, method, path, token string, in, out any) error {
	var body io.Reader
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.Base+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := a.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		e := &StatusError{Method: method, Path: path, Status: resp.StatusCode, Body: string(bytes.TrimSpace(raw))}
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
			e.RetryAfter = time.Duration(s) * time.Second
		}
		return e
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%s %s: decode: %w", method, path, err)
		}
	}
	return nil
}

// User is one registered account with a current access token.
type User struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
	Password string `json:"password"`
	Token    string `json:"token"`
}

type session struct {
	User struct {
		ID       int64  `json:"id"`
		Username string `json:"username"`
	} `json:"user"`
	AccessToken string `json:"access_token"`
}

// Register creates an account. A 429 is retried after Retry-After, so a
// throttled sign-up slows the setup down instead of failing it.
func (a *API) Register(ctx context.Context, username, password string) (User, error) {
	for {
		var s session
		err := a.Do(ctx, http.MethodPost, "/api/auth/register", "", map[string]string{"username": username, "password": password}, &s)
		var se *StatusError
		if errors.As(err, &se) && se.Status == http.StatusTooManyRequests {
			select {
			case <-time.After(max(se.RetryAfter, 200*time.Millisecond)):
				continue
			case <-ctx.Done():
				return User{}, ctx.Err()
			}
		}
		if err != nil {
			return User{}, err
		}
		return User{ID: s.User.ID, Username: s.User.Username, Password: password, Token: s.AccessToken}, nil
	}
}

// Login signs in and returns the access token.
func (a *API) Login(ctx context.Context, username, password string) (string, error) {
	var s session
	if err := a.Do(ctx, http.MethodPost, "/api/auth/login", "", map[string]string{"username": username, "password": password}, &s); err != nil {
		return "", err
	}
	return s.AccessToken, nil
}

// Room is the part of a chat room the harness needs.
type Room struct {
	ID      int64  `json:"id"`
	Name    string `json:"name"`
	LastSeq int64  `json:"last_seq"`
}

// CreateRoom creates a public room owned by token's user.
func (a *API) CreateRoom(ctx context.Context, token, name string) (Room, error) {
	var r Room
	err := a.Do(ctx, http.MethodPost, "/api/chat/rooms", token, map[string]string{"name": name, "description": "load test", "kind": "public"}, &r)
	return r, err
}

// JoinRoom makes token's user a member of a public room.
func (a *API) JoinRoom(ctx context.Context, token string, room int64) error {
	return a.Do(ctx, http.MethodPost, "/api/chat/rooms/"+strconv.FormatInt(room, 10)+"/join", token, nil, nil)
}

// PostMessage sends a message over HTTP.
func (a *API) PostMessage(ctx context.Context, token string, room int64, body, clientMsgID string) error {
	return a.Do(ctx, http.MethodPost, "/api/chat/rooms/"+strconv.FormatInt(room, 10)+"/messages", token,
		map[string]string{"body": body, "client_msg_id": clientMsgID}, nil)
}

// RunID is a short random name for this run's users and rooms.
func RunID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Population is a set of users, optionally kept in a file between runs.
type Population struct {
	Users []User `json:"users"`
}

// LoadPopulation reads a population file; a missing file is an empty
// population.
func LoadPopulation(path string) (*Population, error) {
	p := &Population{}
	if path == "" {
		return p, nil
	}
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, p); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// Save writes the population file atomically.
func (p *Population) Save(path string) error {
	if path == "" {
		return nil
	}
	raw, err := json.Marshal(p)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Ensure registers users until there are n, conc at a time, calling
// progress after each.
func (p *Population) Ensure(ctx context.Context, api *API, n, conc int, progress func(done, want int)) error {
	missing := n - len(p.Users)
	if missing <= 0 {
		return nil
	}
	prefix := "lt" + RunID()
	base := len(p.Users)
	out := make([]User, missing)
	var (
		mu       sync.Mutex
		done     int
		firstErr error
		wg       sync.WaitGroup
	)
	jobs := make(chan int)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range max(conc, 1) {
		wg.Go(func() {
			for i := range jobs {
				name := fmt.Sprintf("%s_%d", prefix, base+i)
				u, err := api.Register(ctx, name, "pw-"+name)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("register %s: %w", name, err)
					cancel()
				}
				out[i] = u
				done++
				if progress != nil {
					progress(done, missing)
				}
				mu.Unlock()
			}
		})
	}
feed:
	for i := range missing {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	p.Users = append(p.Users, out...)
	return nil
}

// tokenExpiry reads the exp claim of a JWT without verifying it (the
// harness only needs to know whether to log in again).
func tokenExpiry(tok string) time.Time {
	parts := bytes.Split([]byte(tok), []byte("."))
	if len(parts) != 3 {
		return time.Time{}
	}
	raw, err := base64URL(parts[1])
	if err != nil {
		return time.Time{}
	}
	var c struct {
		Exp int64 `json:"exp"`
	}
	if json.Unmarshal(raw, &c) != nil {
		return time.Time{}
	}
	return time.Unix(c.Exp, 0)
}

// Refresh logs in again every user whose token expires within horizon.
func (p *Population) Refresh(ctx context.Context, api *API, horizon time.Duration, conc int) (int, error) {
	deadline := time.Now().Add(horizon)
	var stale []int
	for i, u := range p.Users {
		if tokenExpiry(u.Token).Before(deadline) {
			stale = append(stale, i)
		}
	}
	if len(stale) == 0 {
		return 0, nil
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	jobs := make(chan int)
	for range max(conc, 1) {
		wg.Go(func() {
			for i := range jobs {
				tok, err := api.Login(ctx, p.Users[i].Username, p.Users[i].Password)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("login %s: %w", p.Users[i].Username, err)
				}
				p.Users[i].Token = tok
				mu.Unlock()
			}
		})
	}
	for _, i := range stale {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return len(stale), firstErr
}

func base64URL(b []byte) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(string(bytes.TrimRight(b, "=")))
}
