// Command chat-service serves Parley's rooms, messages and WebSocket.
package main

import (
	"github.com/parleychat/parley/chat-service/app"
	"github.com/parleychat/parley/platform/serve"
)

func main() { serve.Main(app.Run) }
