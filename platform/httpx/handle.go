package httpx

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// Endpoint is a handler written as a function of the request: it returns
// the answer's body or an error, and Handle writes either. It may set
// headers for a successful answer, but only once it knows it succeeds, so
// that an error answer stays exactly what Error writes.
type Endpoint func(c *gin.Context) (any, error)

// Reply is a result whose status depends on what happened, such as 201 for
// a member added and 200 for one who already was: an Endpoint returns it
// in place of the bare body.
type Reply struct {
	Status int
	Body   any
}

// Handle adapts fn to gin: an error goes to Error, a result is answered
// 200 with JSON.
func Handle(fn Endpoint) gin.HandlerFunc {
	return HandleAs(http.StatusOK, fn)
}

// HandleAs is Handle answering status instead of 200. 204 writes no body,
// whatever fn returns.
func HandleAs(status int, fn Endpoint) gin.HandlerFunc {
	return func(c *gin.Context) {
		body, err := fn(c)
		if err != nil {
			Error(c, err)
			return
		}
		code := status
		if r, ok := body.(Reply); ok {
			code, body = r.Status, r.Body
		}
		if code == http.StatusNoContent {
			c.Status(code)
			return
		}
		c.JSON(code, body)
	}
}
