package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/parleychat/parley/platform/sqldb/sqldbtest"
)

// BenchmarkUpload posts 25 MiB files (FILE_MAX_BYTES) through the real
// gateway into chat-service on loopback, on SQLite and on PostgreSQL
// (TEST_POSTGRES_DSN). It reports MB/s (SetBytes) and the growth of the
// process's live heap (every service and the client) while uploading.
//
//	cd e2e && go test -run '^$' -bench Upload -benchtime 10x .
func BenchmarkUpload(b *testing.B) {
	const size = 25 << 20
	for _, dialect := range []string{"sqlite", "postgres"} {
		b.Run(dialect, func(b *testing.B) {
			extra := map[string]string{}
			if dialect == "postgres" {
				extra["DATABASE_URL"] = sqldbtest.Postgres(b).DSN
			}
			s := startStackWith(b, extra, false)
			base := s.Gateway.URL
			var sess struct {
				AccessToken string `json:"access_token"`
			}
			post := func(path, tok, ctype string, body io.Reader, out any) {
				req, _ := http.NewRequest("POST", base+path, body)
				req.Header.Set("Content-Type", ctype)
				if tok != "" {
					req.Header.Set("Authorization", "Bearer "+tok)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				defer resp.Body.Close()
				raw, _ := io.ReadAll(resp.Body)
				if resp.StatusCode/100 != 2 {
					b.Fatalf("POST %s: %d %s", path, resp.StatusCode, raw)
				}
				if out != nil {
					json.Unmarshal(raw, out)
				}
			}
			post("/api/auth/register", "", "application/json", bytes.NewBufferString(`{"username":"bench","password":"correct horse"}`), &sess)
			var room struct{ ID int64 }
			post("/api/chat/rooms", sess.AccessToken, "application/json", bytes.NewBufferString(`{"name":"uploads","kind":"public"}`), &room)

			data := bytes.Repeat([]byte("0123456789abcdef"), size/16)
			var buf bytes.Buffer
			mw := multipart.NewWriter(&buf)
			fw, _ := mw.CreateFormFile("file", "big.bin")
			fw.Write(data)
			mw.Close()
			body, ctype := buf.Bytes(), mw.FormDataContentType()
			path := "/api/chat/rooms/" + strconv.FormatInt(room.ID, 10) + "/files"

			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			heap0, peak := ms.HeapAlloc, ms.HeapAlloc
			stop, stopped := make(chan struct{}), make(chan struct{})
			go func() {
				defer close(stopped)
				for {
					select {
					case <-stop:
						return
					case <-time.After(20 * time.Millisecond):
					}
					runtime.GC()
					var ms runtime.MemStats
					runtime.ReadMemStats(&ms)
					peak = max(peak, ms.HeapAlloc)
				}
			}()
			b.SetBytes(size)
			b.ResetTimer()
			for range b.N {
				post(path, sess.AccessToken, ctype, bytes.NewReader(body), nil)
			}
			b.StopTimer()
			close(stop)
			<-stopped
			b.ReportMetric(float64(int64(peak)-int64(heap0))/(1<<20), "heap-growth-MiB")
		})
	}
}
