// Package app is the frontend service: it serves the embedded single-page app
// and the runtime config that tells the browser where the API and the chat
// WebSocket live.
package app

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/parleychat/parley/frontend/internal/site"
	"github.com/parleychat/parley/frontend/web"
	"github.com/parleychat/parley/platform/config"
	"github.com/parleychat/parley/platform/health"
	"github.com/parleychat/parley/platform/httpx"
	"github.com/parleychat/parley/platform/logx"
	"github.com/parleychat/parley/platform/serve"
)

// Version is set at build time with -ldflags "-X .../app.Version=...".
var Version = "dev"

// Run serves the app until ctx ends. args[1] == "healthcheck" probes a
// running instance instead.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if serve.IsHealthcheck(args) {
		return serve.HealthcheckFromEnv(ctx, getenv, 8080, stdout)
	}
	env := config.New(getenv)
	common := env.ReadCommon(8080)
	cfg := site.Config{
		APIBaseURL: env.Raw("API_BASE_URL"),
		ChatWSURL:  env.Raw("CHAT_WS_URL"),
	}
	trusted := env.List("TRUSTED_PROXIES", nil)
	if err := env.Err(); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}

	log := logx.New(stdout, "frontend", common.LogLevel, common.LogFormat)
	s, err := site.New(web.FS, cfg)
	if err != nil {
		return fmt.Errorf("load app: %w", err)
	}
	h := health.New("frontend", Version)
	eng := httpx.NewEngine(httpx.Options{
		Service:        "frontend",
		Logger:         log,
		Registry:       h.Registry,
		MaxBodyBytes:   64 << 10,
		TrustedProxies: trusted,
	})
	s.Register(eng) // first: its security headers must cover every route
	h.Register(eng)
	wsURLs, _ := site.ChatWSURLs(cfg.ChatWSURL) // checked by Validate
	log.Info("app loaded", "asset_version", s.Version(), "api_base_url", cfg.APIBaseURL, "chat_ws_urls", wsURLs)

	srv := &serve.Server{
		Addr:    ":" + strconv.Itoa(common.Port),
		Handler: eng,
		Logger:  log,
		Health:  h,
	}
	return srv.Run(ctx)
}
