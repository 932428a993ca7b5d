package httpx

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// traceRoute names the request's server span (tracing.Handler's, started
// before routing) after the matched route and records the status.
func traceRoute(c *gin.Context) {
	c.Next()
	span := trace.SpanFromContext(c.Request.Context())
	if !span.IsRecording() {
		return
	}
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	status := c.Writer.Status()
	span.SetName(c.Request.Method + " " + route)
	span.SetAttributes(attribute.String("http.route", route), attribute.Int("http.response.status_code", status))
	if status >= 500 {
		span.SetStatus(codes.Error, http.StatusText(status))
	}
}
