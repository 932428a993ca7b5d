// Command api-gateway is Parley's single HTTP entry point: it routes /api/*
// to the services, checks access tokens, applies CORS, rate and body limits,
// and aggregates the services' health.
package main

import (
	"github.com/parleychat/parley/api-gateway/app"
	"github.com/parleychat/parley/platform/serve"
)

func main() { serve.Main(app.Run) }
