package httpapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "golang.org/x/image/webp"

	"github.com/parleychat/parley/chat-service/internal/chat"
	"github.com/parleychat/parley/chat-service/internal/store"
	"github.com/parleychat/parley/platform/sqldb"
)

// startFiles starts a service whose database the test can read (the URL
// signing key, leftover rows).
func startFiles(t *testing.T, env map[string]string) (*harness, string) {
	t.Helper()
	dir := t.TempDir()
	full := map[string]string{"DATA_DIR": dir}
	for k, v := range env {
		full[k] = v
	}
	return start(t, full), filepath.Join(dir, "chat.db")
}

func openDB(t *testing.T, path string) *sqldb.DB {
	t.Helper()
	target, err := sqldb.ParseURL("", filepath.Dir(path), filepath.Base(path))
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqldb.OpenSchema(context.Background(), target, store.Schema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// upload posts content as the multipart field "file" named name.
func (h *harness) upload(u user, roomID int64, name string, content []byte) (int, []byte) {
	h.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile("file", name)
	if err != nil {
		h.t.Fatal(err)
	}
	fw.Write(content)
	mw.Close()
	req, _ := http.NewRequest("POST", h.url+"/rooms/"+itoa(roomID)+"/files", &buf)
	req.Header.Set("Authorization", "Bearer "+u.token)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

func (h *harness) mustUpload(u user, roomID int64, name string, content []byte) chat.File {
	h.t.Helper()
	status, raw := h.upload(u, roomID, name, content)
	if status != http.StatusCreated {
		h.t.Fatalf("upload %s: %d %s", name, status, raw)
	}
	var f chat.File
	if err := json.Unmarshal(raw, &f); err != nil {
		h.t.Fatal(err)
	}
	return f
}

// fetch GETs a file URL as the browser would: no token, /api/chat
// stripped as the gateway does.
func (h *harness) fetch(u string, header ...string) (*http.Response, []byte) {
	h.t.Helper()
	req, _ := http.NewRequest("GET", h.url+strings.TrimPrefix(u, "/api/chat"), nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp, raw
}

func testImage(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 128, 255})
		}
	}
	return img
}

func encodePNG(t *testing.T, w, h int) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, testImage(w, h)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// tinyWebP is a 1×1 lossless WebP (the bytes browsers' feature tests
// use); Go has no WebP encoder, so WebP is tested by decoding this.
const tinyWebP = "UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA=="

func TestUploadImages(t *testing.T) {
	h := start(t, nil)
	alice := h.user(1, "alice")
	room := h.createRoom(alice, "pics", "public")

	var jpg, gf bytes.Buffer
	if err := jpeg.Encode(&jpg, testImage(1000, 500), nil); err != nil {
		t.Fatal(err)
	}
	pal := image.NewPaletted(image.Rect(0, 0, 300, 900), color.Palette{color.Black, color.White})
	if err := gif.Encode(&gf, pal, nil); err != nil {
		t.Fatal(err)
	}
	webp, _ := base64.StdEncoding.DecodeString(tinyWebP)
	for _, tt := range []struct {
		name, ctype, thumbType string
		data                   []byte
		w, h                   int
	}{
		{"wide.png", "image/png", "image/png", encodePNG(t, 800, 200), 800, 200},
		{"photo.jpg", "image/jpeg", "image/jpeg", jpg.Bytes(), 1000, 500},
		{"tall.gif", "image/gif", "image/png", gf.Bytes(), 300, 900},
		{"dot.webp", "image/webp", "image/png", webp, 1, 1},
		{"small.png", "image/png", "image/png", encodePNG(t, 40, 30), 40, 30},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := h.mustUpload(alice, room.ID, tt.name, tt.data)
			if f.ContentType != tt.ctype || f.Size != int64(len(tt.data)) || f.Name != tt.name {
				t.Fatalf("file %+v", f)
			}
			if f.Width == nil || f.Height == nil || *f.Width != tt.w || *f.Height != tt.h || f.ThumbnailURL == nil {
				t.Fatalf("dimensions/thumbnail of %+v", f)
			}
			if !strings.HasPrefix(f.URL, "/api/chat/files/"+itoa(f.ID)+"?exp=") || !strings.Contains(f.URL, "&sig=") {
				t.Fatalf("url %q", f.URL)
			}
			resp, body := h.fetch(f.URL)
			if resp.StatusCode != 200 || !bytes.Equal(body, tt.data) {
				t.Fatalf("download: %d, %d bytes", resp.StatusCode, len(body))
			}
			for k, v := range map[string]string{"Content-Type": tt.ctype, "Content-Disposition": "inline",
				"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"} {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "private") || !strings.Contains(cc, "max-age=") {
				t.Errorf("Cache-Control %q", cc)
			}
			resp, body = h.fetch(*f.ThumbnailURL)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != tt.thumbType {
				t.Fatalf("thumbnail: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			cfg, _, err := image.DecodeConfig(bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			if max(cfg.Width, cfg.Height) > chat.ThumbnailMax || (max(tt.w, tt.h) > chat.ThumbnailMax && max(cfg.Width, cfg.Height) != chat.ThumbnailMax) {
				t.Fatalf("thumbnail is %dx%d", cfg.Width, cfg.Height)
			}
		})
	}

	// Range requests, and the same URL for the same file within the bucket.
	f := h.mustUpload(alice, room.ID, "r.png", encodePNG(t, 64, 64))
	resp, body := h.fetch(f.URL, "Range", "bytes=0-7")
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("range: %d %q", resp.StatusCode, body)
	}
	var again chat.Message
	msg := h.must(http.StatusCreated, "POST", "/rooms/"+itoa(room.ID)+"/messages", alice, map[string]any{"file_ids": []int64{f.ID}}, &again)
	if len(again.Files) != 1 || again.Files[0].URL != f.URL || again.Body != "" {
		t.Fatalf("message with file: %s", msg)
	}
}

// pngHeader is a PNG signature and IHDR chunk claiming w×h pixels, with
// no image data: a decompression bomb's header.
func pngHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6 // 8-bit RGBA
	binary.Write(&b, binary.BigEndian, uint32(len(ihdr)))
	chunk := append([]byte("IHDR"), ihdr...)
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	b.Write(make([]byte, 1024))
	return b.Bytes()
}

func countRows(t *testing.T, db *sqldb.DB, table string) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestUploadRefusals(t *testing.T) {
	h, path := startFiles(t, map[string]string{"FILE_MAX_BYTES": "100000"})
	db := openDB(t, path)
	alice, bob := h.user(1, "alice"), h.user(2, "bob")
	room := h.createRoom(alice, "files", "public")
	secret := h.createRoom(alice, "secret", "private")

	status, raw := h.upload(alice, room.ID, "bomb.png", pngHeader(10000, 10000))
	if status != http.StatusUnprocessableEntity || errCode(raw) != "image_too_large" {
		t.Fatalf("bomb: %d %s", status, raw)
	}
	status, raw = h.upload(alice, room.ID, "big.bin", make([]byte, 100001))
	if status != http.StatusRequestEntityTooLarge || errCode(raw) != "file_too_large" {
		t.Fatalf("too large: %d %s", status, raw)
	}
	if n := countRows(t, db, "files") + countRows(t, db, "file_chunks"); n != 0 {
		t.Fatalf("refused uploads left %d rows", n)
	}
	// Exactly the limit is fine.
	h.mustUpload(alice, room.ID, "max.bin", make([]byte, 100000))

	status, raw = h.upload(bob, secret.ID, "x.txt", []byte("hi"))
	if status != http.StatusNotFound || errCode(raw) != "room_not_found" {
		t.Fatalf("private room: %d %s", status, raw)
	}
	status, raw = h.upload(bob, room.ID, "x.txt", []byte("hi"))
	if status != http.StatusForbidden || errCode(raw) != "not_member" {
		t.Fatalf("public room, not a member: %d %s", status, raw)
	}
	status, raw, _ = h.call("POST", "/rooms/"+itoa(room.ID)+"/files", alice, map[string]string{"not": "multipart"})
	if status != http.StatusBadRequest || errCode(raw) != "invalid_multipart" {
		t.Fatalf("json body: %d %s", status, raw)
	}

	// A Content-Length over the limit is refused before the body is read:
	// the body here never comes.
	pr, pw := io.Pipe()
	defer pw.Close()
	req, _ := http.NewRequest("POST", h.url+"/rooms/"+itoa(room.ID)+"/files", pr)
	req.ContentLength = 10 << 20
	req.Header.Set("Authorization", "Bearer "+alice.token)
	req.Header.Set("Content-Type", "multipart/form-data; boundary=x")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || errCode(raw) != "file_too_large" {
		t.Fatalf("content-length: %d %s", resp.StatusCode, raw)
	}
}

func TestDangerousFilesAreAttachments(t *testing.T) {
	h := start(t, nil)
	alice := h.user(1, "alice")
	room := h.createRoom(alice, "files", "public")
	for _, tt := range []struct {
		name, content, ctype, wantName string
	}{
		{"evil.png", "<html><script>alert(1)</script></html>", "text/html; charset=utf-8", "evil.png"},
		{"logo.svg", `<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`, "image/svg+xml", "logo.svg"},
		{"\"><img src=x onerror=alert(1)>\u202e.txt", "hello", "text/plain; charset=utf-8", "\"><img src=x onerror=alert(1)>.txt"},
		{"../../etc/pass\u200bwd\u200f", "x", "text/plain; charset=utf-8", "passwd"},
	} {
		f := h.mustUpload(alice, room.ID, tt.name, []byte(tt.content))
		if f.ContentType != tt.ctype || f.Width != nil || f.ThumbnailURL != nil || f.Name != tt.wantName {
			t.Fatalf("%q: %+v", tt.name, f)
		}
		resp, body := h.fetch(f.URL)
		if resp.StatusCode != 200 || string(body) != tt.content {
			t.Fatalf("%q: %d", tt.name, resp.StatusCode)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/octet-stream" {
			t.Errorf("%q served as %q", tt.name, ct)
		}
		cd := resp.Header.Get("Content-Disposition")
		if !strings.HasPrefix(cd, `attachment; filename="`) || !strings.Contains(cd, "filename*=UTF-8''") || strings.Count(cd, `"`) != 2 || strings.ContainsAny(cd, "\u202e\r\n") {
			t.Errorf("%q: Content-Disposition %q", tt.name, cd)
		}
		if resp.Header.Get("Content-Security-Policy") != "sandbox" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%q: headers %v", tt.name, resp.Header)
		}
		// The thumbnail of a file without one is not found, even signed.
		if resp, _ := h.fetch(strings.Replace(f.URL, "?", "/thumbnail?", 1)); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%q: thumbnail with the file's signature: %d", tt.name, resp.StatusCode)
		}
	}
}

func TestFileSignatures(t *testing.T) {
	h, path := startFiles(t, nil)
	alice := h.user(1, "alice")
	room := h.createRoom(alice, "files", "public")
	f := h.mustUpload(alice, room.ID, "a.png", encodePNG(t, 10, 10))

	u, _ := url.Parse(f.URL)
	exp, sig := u.Query().Get("exp"), u.Query().Get("sig")
	base := "/files/" + itoa(f.ID)
	for name, tt := range map[string]struct {
		path string
		code string
	}{
		"forged":            {base + "?exp=" + exp + "&sig=AAAA" + sig[4:], "invalid_signature"},
		"no signature":      {base, "invalid_signature"},
		"later exp":         {base + "?exp=" + strconv.FormatInt(mustInt(exp)+3600, 10) + "&sig=" + sig, "invalid_signature"},
		"other file":        {"/files/" + itoa(f.ID+1) + "?exp=" + exp + "&sig=" + sig, "invalid_signature"},
		"file sig on thumb": {base + "/thumbnail?exp=" + exp + "&sig=" + sig, "invalid_signature"},
	} {
		resp, raw := h.fetch(tt.path)
		if resp.StatusCode != http.StatusForbidden || errCode(raw) != tt.code {
			t.Errorf("%s: %d %s", name, resp.StatusCode, raw)
		}
	}

	// A correctly signed URL whose time is up: signed here with the key
	// every replica reads from the database.
	db := openDB(t, path)
	var key []byte
	if err := db.QueryRowContext(context.Background(), "SELECT secret FROM file_keys WHERE id = 1").Scan(&key); err != nil {
		t.Fatal(err)
	}
	past := &chat.FileURLs{Key: key, Now: func() time.Time { return time.Now().Add(-13 * time.Hour) }}
	old := chat.File{ID: f.ID}
	past.Sign(&old)
	resp, raw := h.fetch(old.URL)
	if resp.StatusCode != http.StatusForbidden || errCode(raw) != "link_expired" {
		t.Fatalf("expired: %d %s", resp.StatusCode, raw)
	}
	// A link made 5 hours ago still works, and is the same URL as now's
	// when both fall in one bucket.
	recent := &chat.FileURLs{Key: key, Now: func() time.Time { return time.Now().Add(-5 * time.Hour) }}
	fresh := chat.File{ID: f.ID}
	recent.Sign(&fresh)
	if resp, _ := h.fetch(fresh.URL); resp.StatusCode != 200 {
		t.Fatalf("5 h old link: %d", resp.StatusCode)
	}
}

func mustInt(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

func TestSendWithFiles(t *testing.T) {
	h := start(t, nil)
	alice, bob := h.user(1, "alice"), h.user(2, "bob")
	room := h.createRoom(alice, "files", "public")
	other := h.createRoom(alice, "other", "public")
	h.must(http.StatusOK, "POST", "/rooms/"+itoa(room.ID)+"/join", bob, nil, nil)

	var ids []int64
	for i := range 11 {
		ids = append(ids, h.mustUpload(alice, room.ID, "f"+strconv.Itoa(i)+".txt", []byte("file "+strconv.Itoa(i))).ID)
	}
	bobs := h.mustUpload(bob, room.ID, "bob.txt", []byte("bob's"))
	elsewhere := h.mustUpload(alice, other.ID, "else.txt", []byte("other room"))
	path := "/rooms/" + itoa(room.ID) + "/messages"
	for name, fids := range map[string][]int64{
		"eleven":     ids,
		"bob's":      {ids[0], bobs.ID},
		"other room": {elsewhere.ID},
		"unknown":    {999999},
		"repeated":   {ids[0], ids[0]},
		"zero":       {0},
	} {
		status, raw, _ := h.call("POST", path, alice, map[string]any{"body": "x", "file_ids": fids})
		if status != http.StatusUnprocessableEntity || errCode(raw) != "invalid_files" {
			t.Errorf("%s: %d %s", name, status, raw)
		}
	}
	// Nothing was stored by the refusals.
	var page struct {
		Messages []chat.Message `json:"messages"`
	}
	h.must(http.StatusOK, "GET", path, alice, nil, &page)
	if len(page.Messages) != 0 {
		t.Fatalf("refused sends stored %d messages", len(page.Messages))
	}

	ws := h.connect(bob)
	ws.subscribe(room.ID, nil)
	var m chat.Message
	h.must(http.StatusCreated, "POST", path, alice, map[string]any{"body": "  ", "file_ids": ids[:10], "client_msg_id": "c1"}, &m)
	if len(m.Files) != 10 || m.Files[0].ID != ids[0] || m.Body != "" {
		t.Fatalf("sent %+v", m)
	}
	ev := msgOf(ws.expect("message"))
	if files, _ := ev["files"].([]any); len(files) != 10 {
		t.Fatalf("event files: %v", ev["files"])
	}
	// A retry gets the same message; the files are taken now.
	var retry chat.Message
	h.must(http.StatusCreated, "POST", path, alice, map[string]any{"file_ids": ids[:10], "client_msg_id": "c1"}, &retry)
	if retry.ID != m.ID || len(retry.Files) != 10 {
		t.Fatalf("retry %+v", retry)
	}
	status, raw, _ := h.call("POST", path, alice, map[string]any{"body": "again", "file_ids": ids[:1]})
	if status != http.StatusUnprocessableEntity || errCode(raw) != "invalid_files" {
		t.Fatalf("attached twice: %d %s", status, raw)
	}
	// An empty body needs files.
	status, raw, _ = h.call("POST", path, alice, map[string]any{"body": ""})
	if status != http.StatusUnprocessableEntity || errCode(raw) != "empty_body" {
		t.Fatalf("empty: %d %s", status, raw)
	}
	// The WebSocket send takes file_ids too, with no body at all.
	wsa := h.connect(alice)
	wsa.send(map[string]any{"type": "send", "room_id": room.ID, "client_msg_id": "ws1", "file_ids": []int64{ids[10]}})
	ack := wsa.expect("ack")
	if files, _ := msgOf(ack)["files"].([]any); len(files) != 1 {
		t.Fatalf("ack: %v", ack)
	}
	wsa.send(map[string]any{"type": "send", "room_id": room.ID, "client_msg_id": "ws2", "file_ids": []int64{bobs.ID}})
	wsa.expectError("invalid_files")

	// History, permalinks and search carry the files; messages without
	// files carry an empty list.
	plain := h.post(alice, room.ID, "plain words", "")
	if plain.Files == nil || len(plain.Files) != 0 {
		t.Fatalf("plain message files: %#v", plain.Files)
	}
	h.must(http.StatusOK, "GET", path, bob, nil, &page)
	if len(page.Messages) != 3 || len(page.Messages[0].Files) != 10 || len(page.Messages[1].Files) != 1 || page.Messages[2].Files == nil {
		t.Fatalf("history %+v", page.Messages)
	}
	var one chat.Message
	h.must(http.StatusOK, "GET", "/messages/"+itoa(m.ID), bob, nil, &one)
	if len(one.Files) != 10 {
		t.Fatalf("permalink files %d", len(one.Files))
	}

	// Deleting the message deletes its files.
	url0 := m.Files[0].URL
	if resp, _ := h.fetch(url0); resp.StatusCode != 200 {
		t.Fatalf("before delete: %d", resp.StatusCode)
	}
	var tomb chat.Message
	h.must(http.StatusOK, "DELETE", "/messages/"+itoa(m.ID), alice, nil, &tomb)
	if len(tomb.Files) != 0 {
		t.Fatalf("tombstone files %d", len(tomb.Files))
	}
	if resp, raw := h.fetch(url0); resp.StatusCode != http.StatusNotFound || errCode(raw) != "file_not_found" {
		t.Fatalf("after delete: %d %s", resp.StatusCode, raw)
	}
}

// An upload of FILE_MAX_BYTES streams through: the live heap grows by far
// less than the file.
func TestUploadStreams(t *testing.T) {
	const size = chat.DefaultFileMaxBytes
	h := start(t, nil)
	alice := h.user(1, "alice")
	room := h.createRoom(alice, "big", "public")

	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		fw, _ := mw.CreateFormFile("file", "big.bin")
		chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096)
		for sent := 0; sent < size; sent += len(chunk) {
			if _, err := fw.Write(chunk[:min(len(chunk), size-sent)]); err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		mw.Close()
		pw.Close()
	}()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	peak := base
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(5 * time.Millisecond) // the sampling interval
		defer tick.Stop()
		for {
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	req, _ := http.NewRequest("POST", h.url+"/rooms/"+itoa(room.ID)+"/files", pr)
	req.Header.Set("Authorization", "Bearer "+alice.token)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	close(stop)
	<-done
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload: %d %s", resp.StatusCode, raw)
	}
	var f chat.File
	json.Unmarshal(raw, &f)
	if f.Size != size {
		t.Fatalf("size %d", f.Size)
	}
	growth := int64(peak) - int64(base)
	t.Logf("live heap growth during a %d-byte upload: %d bytes", size, growth)
	if growth > size/4 {
		t.Fatalf("heap grew by %d bytes for a %d-byte upload", growth, size)
	}
	resp2, body := h.fetch(f.URL, "Range", "bytes=26214000-")
	if resp2.StatusCode != http.StatusPartialContent || len(body) != size-26214000 {
		t.Fatalf("tail range: %d %d", resp2.StatusCode, len(body))
	}
}
