package app

import (
	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/chat-service/internal/httpapi"
	"github.com/parleychat/parley/platform/health"
	"github.com/parleychat/parley/platform/httpx"
)

// Routes lists every route chat-service registers, mounted as run mounts
// them but with nothing behind them (no database, no handler is called).
// The e2e OpenAPI test compares them with the document the gateway serves,
// so httpapi.Routes must build its handlers without calling into its Deps.
func Routes() gin.RoutesInfo {
	eng := httpx.NewEngine(httpx.Options{Service: service})
	health.New(service, Version).Register(eng)
	httpapi.Routes(eng, httpapi.Deps{})
	return eng.Routes()
}
