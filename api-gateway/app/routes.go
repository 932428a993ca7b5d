package app

import (
	"net/url"

	"github.com/gin-gonic/gin"

	"github.com/parleychat/parley/api-gateway/internal/httpapi"
	"github.com/parleychat/parley/api-gateway/internal/proxy"
	"github.com/parleychat/parley/platform/health"
)

// Routes lists every route the gateway registers (its own endpoints and the
// /api/<service>/*path forwards), built as Run builds them but with nothing
// behind them. The e2e OpenAPI test compares them with the document.
func Routes() (gin.RoutesInfo, error) {
	up := func(name string) *proxy.Upstream {
		return proxy.New(proxy.Options{Name: name, Target: &url.URL{Scheme: "http", Host: name}})
	}
	eng, err := httpapi.Routes(httpapi.Deps{
		Health:    health.New(httpapi.Service, Version),
		Upstreams: httpapi.Upstreams{Auth: up("auth"), User: up("user"), Chat: up("chat")},
	})
	if err != nil {
		return nil, err
	}
	return eng.Routes(), nil
}
