// Command api-gateway is Parley's single HTTP entry point: it routes /api/*
// to the services, checks access tokens, applies CORS, rate and body limits,
// and aggregates the services' health.
package main

import (
	"os"

	"github.com/parleychat/parley/api-gateway/app"
	"github.com/parleychat/parley/platform/serve"
)

func main() {
	// A live heap of a few MiB and allocations on every proxied request:
	// collect less often (see serve.TuneGC).
	serve.TuneGC(os.Getenv, 400)
	serve.Main(app.Run)
}
