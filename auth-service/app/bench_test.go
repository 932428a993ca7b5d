package app_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/parleychat/parley/auth-service/app"
	"github.com/parleychat/parley/platform/testkit"
)

// benchCost is the bcrypt cost both benchmarks run at. 10 rather than the
// production 12 keeps a run short on a small machine; the ratio of the two
// benchmarks is what matters, and it only improves as the cost grows
// (bcrypt's share of each login grows).
const benchCost = 10

// benchParallelism keeps 2×GOMAXPROCS requests in flight, so a core never
// idles while a request crosses the loopback.
const benchParallelism = 2

const benchPassword = "correct horse battery"

// BenchmarkBcryptBound is the ceiling for logins: bcrypt comparisons per
// second at benchCost on all cores, with nothing else.
func BenchmarkBcryptBound(b *testing.B) {
	hash, err := bcrypt.GenerateFromPassword([]byte(benchPassword), benchCost)
	if err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(benchParallelism)
	cpu := cpuTime(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := bcrypt.CompareHashAndPassword(hash, []byte(benchPassword)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "compares/s")
	reportCPU(b, cpu)
}

// BenchmarkLogin is successful logins per second through real HTTP: JSON
// decoding, the user lookup, one bcrypt comparison, a refresh token
// written to SQLite and an access token signed.
func BenchmarkLogin(b *testing.B) {
	s := testkit.Start(b, "auth-service", app.Run, map[string]string{
		"DATA_DIR":       b.TempDir(),
		"BCRYPT_COST":    strconv.Itoa(benchCost),
		"ADMIN_PASSWORD": adminPassword,
		"LOG_LEVEL":      "error",
	})
	body := []byte(`{"username":"bench","password":"` + benchPassword + `"}`)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	post := func(path string, want int) error {
		res, err := client.Post(s.URL+path, "application/json", bytes.NewReader(body))
		if err != nil {
			return err
		}
		defer res.Body.Close()
		if _, err := io.Copy(io.Discard, res.Body); err != nil {
			return err
		}
		if res.StatusCode != want {
			return &statusError{path, res.StatusCode}
		}
		return nil
	}
	if err := post("/register", http.StatusCreated); err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(benchParallelism)
	cpu := cpuTime(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := post("/login", http.StatusOK); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logins/s")
	reportCPU(b, cpu)
}

// cpuTime is the CPU time (user+system) this process has used. The cores
// may be shared with other work, which skews the per-second figures; the
// CPU time per operation is what the process itself spent, so the ratio of
// the two benchmarks' cpu-ms/op holds under contention too.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime(b)-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}

type statusError struct {
	path   string
	status int
}

func (e *statusError) Error() string { return e.path + ": status " + strconv.Itoa(e.status) }

// BenchmarkAccountsNothingNew is what user-service's directory catch-up
// costs a lookup when no account registered since the last one: one
// GET /accounts?after=<the newest id> through real HTTP (token check, an
// index range read that finds nothing).
//
//	cd auth-service && go test -run '^$' -bench AccountsNothingNew -benchtime 3000x ./app/
func BenchmarkAccountsNothingNew(b *testing.B) {
	s := testkit.Start(b, "auth-service", app.Run, map[string]string{
		"DATA_DIR":       b.TempDir(),
		"BCRYPT_COST":    "4",
		"ADMIN_PASSWORD": adminPassword,
		"LOG_LEVEL":      "error",
		// 500 registrations from one address.
		"REGISTER_RATE_IP_BURST": "1000",
	})
	var last int64
	var token string
	for i := range 500 {
		body := []byte(`{"username":"acct` + strconv.Itoa(i) + `","password":"` + benchPassword + `"}`)
		res, err := http.Post(s.URL+"/register", "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		var reg struct {
			User        struct{ ID int64 } `json:"user"`
			AccessToken string             `json:"access_token"`
		}
		err = json.NewDecoder(res.Body).Decode(&reg)
		res.Body.Close()
		if err != nil || res.StatusCode != http.StatusCreated {
			b.Fatalf("register: %d %v", res.StatusCode, err)
		}
		last, token = reg.User.ID, reg.AccessToken
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	url := s.URL + "/accounts?limit=200&after=" + strconv.FormatInt(last, 10)
	lat := make([]time.Duration, 0, b.N)
	for b.Loop() {
		t0 := time.Now()
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			b.Fatalf("accounts = %d", res.StatusCode)
		}
		lat = append(lat, time.Since(t0))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
