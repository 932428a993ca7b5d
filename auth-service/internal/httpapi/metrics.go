package httpapi

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/parleychat/parley/platform/apperr"
)

// metrics counts account events by outcome, so an operator can alert on a
// burst of failed logins or on refresh token reuse (a sign of token theft).
type metrics struct {
	events *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{events: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "auth_events_total",
		Help: "Account events (register, login, refresh, logout, verify, password, user_update) by outcome: ok or the error code.",
	}, []string{"event", "outcome"})}
	if reg != nil {
		reg.MustRegister(m.events)
	}
	return m
}

// observe counts one event; err nil is "ok", otherwise its error code
// ("internal" for failures that are not the client's).
func (m *metrics) observe(event string, err error) {
	outcome := "ok"
	if err != nil {
		e, _ := apperr.From(err)
		outcome = e.Code
	}
	m.events.WithLabelValues(event, outcome).Inc()
}
