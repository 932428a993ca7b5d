package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/chat-service/app"
	"github.com/parleychat/parley/platform/authn"
	"github.com/parleychat/parley/platform/authn/authntest"
	"github.com/parleychat/parley/platform/sqldb"
	"github.com/parleychat/parley/platform/sqldb/sqldbtest"
	"github.com/parleychat/parley/platform/testkit"
)

type uploaded struct {
	ID           int64   `json:"id"`
	URL          string  `json:"url"`
	ThumbnailURL *string `json:"thumbnail_url"`
	Size         int64   `json:"size"`
}

// uploadFile posts data as the multipart field "file" to base's room.
func uploadFile(t *testing.T, base, tok string, room int64, name string, data []byte) uploaded {
	t.Helper()
	f, err := upload(base, tok, room, name, data)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// upload is uploadFile for goroutines other than the test's.
func upload(base, tok string, room int64, name string, data []byte) (uploaded, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", name)
	fw.Write(data)
	mw.Close()
	req, _ := http.NewRequest("POST", fmt.Sprintf("%s/rooms/%d/files", base, room), &buf)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return uploaded{}, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		return uploaded{}, fmt.Errorf("upload: %d %s", resp.StatusCode, raw)
	}
	var f uploaded
	err = json.Unmarshal(raw, &f)
	return f, err
}

// fetchFile GETs a signed URL from base without a token, as the gateway
// forwards it (/api/chat stripped).
func fetchFile(t *testing.T, base, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(base + strings.TrimPrefix(url, "/api/chat"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// multiChunk is a file of several storage chunks.
func multiChunk() []byte {
	data := make([]byte, 2<<20+777)
	for i := range data {
		data[i] = byte(i*31 + i>>12)
	}
	return data
}

// TestFilesAcrossReplicas: two replicas on one database, with no shared
// configuration but the database, sign file URLs with the same key: a
// file uploaded through one is attached, listed and served by the other.
func TestFilesAcrossReplicas(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, target sqldb.Target) {
		natsURL := testkit.StartNATS(t)
		is := authntest.New(t)
		env := func() map[string]string {
			return map[string]string{"DATABASE_URL": target.URL(), "JWKS_URL": is.JWKSURL, "NATS_URL": natsURL, "LOG_LEVEL": "warn"}
		}
		a := testkit.Start(t, "chat-a", app.Run, env())
		b := testkit.Start(t, "chat-b", app.Run, env())
		tok := is.Token(t, 1, "alice", authn.RoleUser, time.Hour)

		data := multiChunk()
		f := uploadFile(t, a.URL, tok, 1, "data.bin", data)
		// Attached through the other replica.
		var m struct {
			Files []uploaded `json:"files"`
		}
		mustAPI(t, 201, "POST", b.URL+"/rooms/1/messages", tok, map[string]any{"body": "see attached", "file_ids": []int64{f.ID}}, &m)
		if len(m.Files) != 1 || m.Files[0].URL != f.URL {
			t.Fatalf("b's message files %+v, a's URL %s", m.Files, f.URL)
		}
		for name, base := range map[string]string{"a": a.URL, "b": b.URL} {
			status, got := fetchFile(t, base, f.URL)
			if status != 200 || !bytes.Equal(got, data) {
				t.Fatalf("served by %s: %d, %d bytes", name, status, len(got))
			}
		}
	})
}
