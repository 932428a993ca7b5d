package httpx

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/parleychat/parley/platform/apperr"
	"github.com/parleychat/parley/platform/logx"
	"github.com/parleychat/parley/platform/tracing"
)

// NewClient returns an HTTP client for calls between services: it has a
// timeout and forwards the request id and the W3C trace context found in
// each request's context.
func NewClient(timeout time.Duration) *http.Client {
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConnsPerHost = 64
	return &http.Client{Timeout: timeout, Transport: requestIDTransport{tracing.Transport(base)}}
}

type requestIDTransport struct{ next http.RoundTripper }

func (t requestIDTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if id := logx.RequestID(r.Context()); id != "" && r.Header.Get(HeaderRequestID) == "" {
		r = r.Clone(r.Context())
		r.Header.Set(HeaderRequestID, id)
	}
	return t.next.RoundTrip(r)
}

// StatusError is GetJSON's error for an answer other than 200: the status
// and, when the body is the error envelope (apperr.Body), its code, so that
// a caller can tell "no such thing" from "wrong address" or "broken".
type StatusError struct {
	Status int
	Code   string
}

func (e *StatusError) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("answered %d %s", e.Status, e.Code)
	}
	return fmt.Sprintf("answered %d", e.Status)
}

// GetJSON is one call to another service: GET url with the caller's
// Authorization forwarded (when not empty), at most maxBody bytes of answer
// read, anything but 200 a *StatusError, and the JSON decoded into dst.
// Errors carry no prefix; the caller names the call.
func GetJSON(ctx context.Context, c *http.Client, url, authorization string, maxBody int64, dst any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var env apperr.Body
		if json.Unmarshal(body, &env) == nil && len(env.Error.Code) <= 64 {
			return &StatusError{Status: resp.StatusCode, Code: env.Error.Code}
		}
		return &StatusError{Status: resp.StatusCode}
	}
	if int64(len(body)) > maxBody {
		return fmt.Errorf("answer larger than %d bytes", maxBody)
	}
	if err := json.Unmarshal(body, dst); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	return nil
}

// CheckLive asks another service's liveness probe (GET base/healthz) and
// reports anything but a 200, naming the service: the non-critical health
// check of a service that depends on another for some answers only.
func CheckLive(ctx context.Context, c *http.Client, base, service string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", service, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: /healthz answered %d", service, resp.StatusCode)
	}
	return nil
}
