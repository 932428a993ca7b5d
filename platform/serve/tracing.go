package serve

import (
	"context"
	"log/slog"
	"time"

	"github.com/parleychat/parley/platform/tracing"
)

// StartTracing sets up the service's tracing from the OTEL_* variables
// (tracing.Init; off unless an OTLP endpoint is set). It returns ctx
// carrying the provider, for Server.Run and the service's own spans, and a
// stop function that flushes what is queued: call it after the server and
// the broker stopped.
func StartTracing(ctx context.Context, service string, getenv func(string) string, log *slog.Logger) (context.Context, func(), error) {
	tp, err := tracing.Init(ctx, service, getenv)
	if err != nil || tp == nil {
		return ctx, func() {}, err
	}
	log.Info("tracing on", "endpoint_set", true, "sampler", getenv("OTEL_TRACES_SAMPLER"))
	return tracing.WithProvider(ctx, tp), func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := tp.Shutdown(sctx); err != nil {
			log.Warn("tracing: spans lost at shutdown", "error", err)
		}
	}, nil
}
