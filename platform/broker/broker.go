// Package broker fans events out between replicas of a service. The
// in-process broker is the default; NATS is used when NATS_URL is set. Both
// deliver through the same Handler path, so local delivery is never a special
// case (the centrifuge model).
package broker

import (
	"context"
	"strings"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/parleychat/parley/platform/tracing"
)

// Handler receives one published message. It must not block: copy or
// enqueue and return.
type Handler func(subject string, data []byte)

// Broker publishes and subscribes on dot-separated subjects. Subscriptions
// accept NATS wildcards: "*" matches one token, a final ">" the rest.
type Broker interface {
	Publish(ctx context.Context, subject string, data []byte) error
	Subscribe(subject string, h Handler) (unsubscribe func(), err error)
	// Check reports whether the broker can deliver now (for readiness).
	Check(ctx context.Context) error
	Close() error
}

// Memory is the in-process broker: it delivers synchronously to every
// matching subscriber in the publisher's goroutine.
type Memory struct {
	mu     sync.RWMutex
	next   int
	subs   map[int]memSub
	closed bool
}

type memSub struct {
	pattern []string
	h       Handler
}

// NewMemory returns an empty in-process broker.
func NewMemory() *Memory { return &Memory{subs: map[int]memSub{}} }

// Publish delivers data to every matching subscriber; under a recording
// span, a producer span covers it and each delivery has a consumer span.
func (m *Memory) Publish(ctx context.Context, subject string, data []byte) error {
	ctx, span := tracing.Start(ctx, "broker publish", trace.WithSpanKind(trace.SpanKindProducer), spanAttrs("memory", subject))
	err := m.deliver(ctx, subject, data)
	tracing.End(span, err)
	return err
}

func (m *Memory) deliver(ctx context.Context, subject string, data []byte) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return ErrClosed
	}
	traced := trace.SpanFromContext(ctx).IsRecording()
	toks := strings.Split(subject, ".")
	for _, s := range m.subs {
		if !Match(s.pattern, toks) {
			continue
		}
		if !traced {
			s.h(subject, data)
			continue
		}
		_, span := tracing.Start(ctx, "broker deliver", trace.WithSpanKind(trace.SpanKindConsumer), spanAttrs("memory", subject))
		s.h(subject, data)
		span.End()
	}
	return nil
}

// spanAttrs are a broker span's attributes.
func spanAttrs(system, subject string) trace.SpanStartEventOption {
	return trace.WithAttributes(attribute.String("messaging.system", system), attribute.String("messaging.destination.name", subject))
}

// Subscribe registers h for subjects matching pattern.
func (m *Memory) Subscribe(pattern string, h Handler) (func(), error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	id := m.next
	m.next++
	m.subs[id] = memSub{pattern: strings.Split(pattern, "."), h: h}
	return func() {
		m.mu.Lock()
		delete(m.subs, id)
		m.mu.Unlock()
	}, nil
}

// Check always succeeds while open.
func (m *Memory) Check(context.Context) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return ErrClosed
	}
	return nil
}

// Close drops every subscription.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	m.subs = map[int]memSub{}
	return nil
}

// Match reports whether subject tokens match pattern tokens with NATS
// wildcard rules.
func Match(pattern, subject []string) bool {
	for i, p := range pattern {
		if p == ">" {
			return len(subject) > i
		}
		if i >= len(subject) {
			return false
		}
		if p != "*" && p != subject[i] {
			return false
		}
	}
	return len(pattern) == len(subject)
}

type brokerError string

func (e brokerError) Error() string { return string(e) }

// ErrClosed is returned after Close.
const ErrClosed = brokerError("broker: closed")
