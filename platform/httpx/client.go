package httpx

import (
	"net/http"
	"time"

	"github.com/parleychat/parley/platform/logx"
)

// NewClient returns an HTTP client for calls between services: it has a
// timeout and forwards the request id found in each request's context.
func NewClient(timeout time.Duration) *http.Client {
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConnsPerHost = 64
	return &http.Client{Timeout: timeout, Transport: requestIDTransport{base}}
}

type requestIDTransport struct{ next http.RoundTripper }

func (t requestIDTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if id := logx.RequestID(r.Context()); id != "" && r.Header.Get(HeaderRequestID) == "" {
		r = r.Clone(r.Context())
		r.Header.Set(HeaderRequestID, id)
	}
	return t.next.RoundTrip(r)
}
