package app

import (
	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/api-gateway/internal/httpapi"
	"github.com/parleychat/parley/platform/health"
)

// Routes lists every route the gateway registers (its own endpoints and the
// /api/<service>/*path forwards), built as Run builds them but with nothing
// behind them. The e2e OpenAPI test compares them with the document.
func Routes() (gin.RoutesInfo, error) {
	eng, err := httpapi.Routes(httpapi.Deps{Health: health.New(httpapi.Service, Version)})
	if err != nil {
		return nil, err
	}
	return eng.Routes(), nil
}
