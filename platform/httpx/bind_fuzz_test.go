package httpx

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/platform/apperr"
)

type fuzzBody struct {
	Name  string            `json:"name"`
	Count int64             `json:"count"`
	On    *bool             `json:"on"`
	Tags  []string          `json:"tags"`
	Meta  map[string]string `json:"meta"`
}

func (b *fuzzBody) Validate() error {
	if b.Count < 0 {
		return apperr.Validation("invalid_count", "count must not be negative")
	}
	return nil
}

// FuzzBindJSON: whatever bytes a client sends, BindJSON never panics and
// every failure is a client error (4xx), never a 500.
func FuzzBindJSON(f *testing.F) {
	for _, s := range []string{`{"name":"a","count":1}`, `{}`, ``, `[]`, `{"count":"x"}`, `{"a":1} {"b":2}`, `{"name":"\u0000"}`, `nul`, `{"tags":[1]}`, `{"count":-1}`, strings.Repeat("[", 10000)} {
		f.Add([]byte(s))
	}
	gin.SetMode(gin.ReleaseMode)
	f.Fuzz(func(t *testing.T, body []byte) {
		w := httptest.NewRecorder()
		c, _ := gin.CreateTestContext(w)
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(body)))
		req.Body = http.MaxBytesReader(w, req.Body, 1<<16)
		c.Request = req
		var dst fuzzBody
		err := BindJSON(c, &dst)
		if err == nil {
			return
		}
		e, ok := apperr.From(err)
		if !ok || e.Status() < 400 || e.Status() > 499 {
			t.Fatalf("body %q: %v is not a client error", body, err)
		}
	})
}
