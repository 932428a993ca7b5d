package broker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/parleychat/parley/platform/tracing"
)

// NATS is the broker for several replicas: every replica publishes what it
// commits and receives what the others committed. A replica's own events
// are delivered to its own subscribers in the publisher's goroutine, through
// the same Handler as the Memory broker, and the server does not echo them
// back (NoEcho): local recipients pay no round trip through nats-server, and
// keep receiving while it is unreachable.
type NATS struct {
	nc    *nats.Conn
	local *Memory
	// tp starts the spans of messages received with a trace context
	// (SetTracing); nil: none.
	tp *tracing.Provider
}

// SetTracing makes received messages that carry a W3C trace context (one
// published under a span) start a consumer span continuing it. Call it
// before Subscribe.
func (n *NATS) SetTracing(p *tracing.Provider) { n.tp = p }

// NewNATS connects to url. It keeps retrying in the background when the
// server is not up yet, so start-up order does not matter; Check reports
// the state for readiness.
func NewNATS(url, name string) (*NATS, error) {
	nc, err := nats.Connect(url,
		nats.Name(name),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(500*time.Millisecond),
		nats.ReconnectBufSize(16<<20),
		nats.NoEcho(),
	)
	if err != nil {
		return nil, fmt.Errorf("nats %s: %w", url, err)
	}
	return &NATS{nc: nc, local: NewMemory()}, nil
}

// Publish delivers data to this replica's subscribers, then sends it to the
// other replicas. data must not change afterwards: handlers may keep it.
// Under a span, a producer span covers both and the message carries its
// trace context in a traceparent header.
func (n *NATS) Publish(ctx context.Context, subject string, data []byte) error {
	ctx, span := tracing.Start(ctx, "broker publish", trace.WithSpanKind(trace.SpanKindProducer), spanAttrs("nats", subject))
	err := n.publish(ctx, subject, data)
	tracing.End(span, err)
	return err
}

func (n *NATS) publish(ctx context.Context, subject string, data []byte) error {
	if err := n.local.deliver(ctx, subject, data); err != nil {
		return err
	}
	var err error
	if trace.SpanContextFromContext(ctx).IsValid() {
		m := &nats.Msg{Subject: subject, Data: data, Header: nats.Header{}}
		tracing.Propagator.Inject(ctx, propagation.HeaderCarrier(m.Header))
		err = n.nc.PublishMsg(m)
	} else {
		err = n.nc.Publish(subject, data)
	}
	if err != nil {
		return fmt.Errorf("nats publish: %w", err)
	}
	return nil
}

// receive hands m to h, under a consumer span when m carries a trace
// context and tracing is on.
func (n *NATS) receive(m *nats.Msg, h Handler) {
	if n.tp == nil || m.Header == nil {
		h(m.Subject, m.Data)
		return
	}
	ctx := tracing.Propagator.Extract(context.Background(), propagation.HeaderCarrier(m.Header))
	if !trace.SpanContextFromContext(ctx).IsValid() {
		h(m.Subject, m.Data)
		return
	}
	_, span := n.tp.Tracer().Start(ctx, "broker receive", trace.WithSpanKind(trace.SpanKindConsumer), spanAttrs("nats", m.Subject))
	h(m.Subject, m.Data)
	span.End()
}

// Subscribe delivers messages on pattern to h: this replica's own in the
// publisher's goroutine, the other replicas' in one goroutine, in the order
// each replica published them.
func (n *NATS) Subscribe(pattern string, h Handler) (func(), error) {
	unsubLocal, err := n.local.Subscribe(pattern, h)
	if err != nil {
		return nil, err
	}
	sub, err := n.nc.Subscribe(pattern, func(m *nats.Msg) { n.receive(m, h) })
	if err != nil {
		unsubLocal()
		return nil, fmt.Errorf("nats subscribe %s: %w", pattern, err)
	}
	// A fan-out subscriber must not be cut off by the default pending limits
	// during a burst; memory is bounded by the per-connection queues above it.
	_ = sub.SetPendingLimits(1<<20, 256<<20)
	return func() { unsubLocal(); _ = sub.Unsubscribe() }, nil
}

// Check fails unless the connection is up.
func (n *NATS) Check(ctx context.Context) error {
	if !n.nc.IsConnected() {
		return errors.New("nats: not connected (" + n.nc.Status().String() + ")")
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
	}
	return n.nc.FlushWithContext(ctx)
}

// Close drains subscriptions and closes the connection.
func (n *NATS) Close() error {
	_ = n.local.Close()
	if err := n.nc.Drain(); err != nil {
		n.nc.Close()
	}
	return nil
}
