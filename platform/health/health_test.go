package health

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// A check with a gauge is run at each scrape: 1 while it passes, 0 once it
// fails, labelled with the service.
func TestCheckGauge(t *testing.T) {
	h := New("svc", "v1")
	var broken error
	h.Add(Check{Name: "database", Critical: true, Gauge: "parley_db_writable", Help: "writable",
		Fn: func(context.Context) error { return broken }})
	h.Add(Check{Name: "quiet", Fn: func(context.Context) error { return nil }})
	want := func(v string) {
		t.Helper()
		exp := "# HELP parley_db_writable writable\n# TYPE parley_db_writable gauge\nparley_db_writable{service=\"svc\"} " + v + "\n"
		if err := testutil.GatherAndCompare(h.Registry, strings.NewReader(exp), "parley_db_writable"); err != nil {
			t.Fatal(err)
		}
	}
	want("1")
	broken = errors.New("disk full")
	want("0")
	if _, ready := h.Run(context.Background()); ready {
		t.Fatal("ready with a failing critical check")
	}
}
