package app_test

import (
	"fmt"
	"net/http"
	"sort"
	"testing"
	"time"
)

// BenchmarkDirectoryCatchUp measures what keeping the directory complete
// costs a lookup (docs/ARCHITECTURE.md, user-service; docs/BENCHMARKS.md):
// a directory search first asks auth-service's account list (over loopback
// HTTP) for accounts past the mark, a profile read by id does not.
//
//	cd user-service && go test -run '^$' -bench DirectoryCatchUp -benchtime 2000x ./app/
func BenchmarkDirectoryCatchUp(b *testing.B) {
	h := start(b, nil)
	old := time.Now().Add(-time.Hour)
	for i := int64(1); i <= 500; i++ {
		h.auth.add(fakeAccount{ID: i, Username: fmt.Sprintf("user%03d", i), CreatedAt: old})
	}
	tok := h.token(1, "user001")
	h.call(http.MethodGet, "/profiles?q=user", tok, nil, http.StatusOK, nil) // the first catch-up imports all 500
	for _, bc := range []struct{ name, path string }{
		{"search, nothing new (catch-up)", "/profiles?q=user49&limit=20"},
		{"profile by id (no catch-up)", "/profiles/499"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			for b.Loop() {
				t0 := time.Now()
				resp := h.request(http.MethodGet, bc.path, tok, nil)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("%s = %d", bc.path, resp.StatusCode)
				}
				lat = append(lat, time.Since(t0))
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
	b.Run("one new account found by a search", func(b *testing.B) {
		id := int64(1000)
		for b.Loop() {
			id++
			name := fmt.Sprintf("new%d", id)
			// Older than the mark's lag, as the previous registration
			// usually is by the time of the next one: each search finds one
			// new account.
			h.auth.add(fakeAccount{ID: id, Username: name, CreatedAt: time.Now().Add(-time.Minute)})
			var page struct {
				Profiles []struct{ ID int64 } `json:"profiles"`
			}
			h.call(http.MethodGet, "/profiles?q="+name, tok, nil, http.StatusOK, &page)
			if len(page.Profiles) != 1 {
				b.Fatalf("%s not found", name)
			}
		}
	})
}
