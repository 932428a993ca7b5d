// Command auth-service owns Parley's accounts, passwords, tokens and signing
// keys (DESIGN §4).
package main

import (
	"github.com/parleychat/parley/auth-service/app"
	"github.com/parleychat/parley/platform/serve"
)

func main() { serve.Main(app.Run) }
