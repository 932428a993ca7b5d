// Command user-service serves Parley profiles, avatars, settings and the
// stats view (docs/ARCHITECTURE.md, Contract: HTTP APIs).
package main

import (
	"github.com/parleychat/parley/platform/serve"

	"github.com/parleychat/parley/user-service/app"
)

func main() { serve.Main(app.Run) }
