// Command frontend serves the Parley single-page app and its runtime config.
package main

import (
	"github.com/parleychat/parley/frontend/app"
	"github.com/parleychat/parley/platform/serve"
)

func main() { serve.Main(app.Run) }
