// Command auth-service owns Parley's accounts, passwords, tokens and signing
// keys (docs/ARCHITECTURE.md, Contract: Tokens).
package main

import (
	"os"

	"github.com/parleychat/parley/auth-service/app"
	"github.com/parleychat/parley/platform/serve"
)

func main() {
	// A live heap of a few MiB and allocations on every request: collect
	// less often (see serve.TuneGC).
	serve.TuneGC(os.Getenv, 400)
	serve.Main(app.Run)
}
