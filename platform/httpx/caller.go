package httpx

import "github.com/gin-gonic/gin"

const callerKey = "parley.caller"

// Caller is middleware for the routes behind authn.Require: resolve turns
// the verified request into the service's own caller (loaded from its
// database, recorded on first sight) once, and handlers read it back with
// CallerOf. An error is answered by Error and stops the chain.
func Caller[T any](resolve func(*gin.Context) (T, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		v, err := resolve(c)
		if err != nil {
			Error(c, err)
			return
		}
		c.Set(callerKey, v)
		c.Next()
	}
}

// CallerOf is the caller that Caller resolved. A route mounted without
// Caller, or read with another type, is a wiring bug: it panics, and
// Recover answers 500.
func CallerOf[T any](c *gin.Context) T {
	return c.MustGet(callerKey).(T)
}
