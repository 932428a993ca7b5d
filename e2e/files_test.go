package e2e

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
)

// Files through the real gateway: an upload (multipart, up to
// FILE_MAX_BYTES however small the gateway's general body limit), a send
// that carries it, and its signed URLs fetched without a token, as an
// <img> or a download link does.
func TestFilesThroughTheGateway(t *testing.T) {
	s := startStack(t)
	anon := &api{t: t, base: s.Gateway.URL}
	register := func(name string) session {
		var out session
		anon.must(201, "POST", "/api/auth/register", map[string]string{"username": name, "password": "correct horse"}, &out)
		return out
	}
	alice, bob := register("alice"), register("bob")
	a, b := anon.with(alice.AccessToken), anon.with(bob.AccessToken)

	var room struct{ ID int64 }
	a.must(201, "POST", "/api/chat/rooms", map[string]string{"name": "shared", "kind": "public"}, &room)
	b.must(200, "POST", "/api/chat/rooms/"+strconv.FormatInt(room.ID, 10)+"/join", nil, nil)
	filesPath := "/api/chat/rooms/" + strconv.FormatInt(room.ID, 10) + "/files"

	type file struct {
		ID           int64   `json:"id"`
		Name         string  `json:"name"`
		Size         int64   `json:"size"`
		ContentType  string  `json:"content_type"`
		Width        *int    `json:"width"`
		URL          string  `json:"url"`
		ThumbnailURL *string `json:"thumbnail_url"`
	}
	img := pngBytes(t)
	body, ctype := multipartFile(t, "file", "me.png", img)
	r := a.do("POST", filesPath, body, "Content-Type", ctype)
	if r.Status != 201 {
		t.Fatalf("upload: %d %s", r.Status, r.Body)
	}
	var pic file
	r.decode(t, &pic)
	if pic.ContentType != "image/png" || pic.Width == nil || pic.ThumbnailURL == nil || !strings.HasPrefix(pic.URL, "/api/chat/files/") {
		t.Fatalf("uploaded %+v", pic)
	}

	// A file of FILE_MAX_BYTES (25 MiB) passes the gateway's upload limit.
	big := bytes.Repeat([]byte("parley "), 25<<20/7)
	big = append(big, make([]byte, 25<<20-len(big))...)
	body, ctype = multipartFile(t, "file", "big.bin", big)
	r = a.do("POST", filesPath, body, "Content-Type", ctype)
	if r.Status != 201 {
		t.Fatalf("25 MiB upload: %d %s", r.Status, r.Body)
	}
	var large file
	r.decode(t, &large)
	// One byte more is refused (413) before chat-service stores anything.
	body, ctype = multipartFile(t, "file", "too-big.bin", append(big, 0))
	if r := a.do("POST", filesPath, body, "Content-Type", ctype); r.Status != 413 {
		t.Fatalf("over the limit: %d %s", r.Status, r.Body)
	}

	var msg struct {
		ID    int64  `json:"id"`
		Files []file `json:"files"`
	}
	a.must(201, "POST", "/api/chat/rooms/"+strconv.FormatInt(room.ID, 10)+"/messages", map[string]any{"body": "", "file_ids": []int64{pic.ID, large.ID}}, &msg)
	if len(msg.Files) != 2 || msg.Files[0].ID != pic.ID {
		t.Fatalf("message files %+v", msg.Files)
	}
	var page struct {
		Messages []struct {
			Files []file `json:"files"`
		} `json:"messages"`
	}
	b.must(200, "GET", "/api/chat/rooms/"+strconv.FormatInt(room.ID, 10)+"/messages", nil, &page)
	if len(page.Messages) != 1 || len(page.Messages[0].Files) != 2 {
		t.Fatalf("bob's history %+v", page.Messages)
	}

	// The signed URLs need no token.
	r = anon.do("GET", pic.URL, nil)
	if r.Status != 200 || !bytes.Equal(r.Body, img) || r.Header.Get("Content-Disposition") != "inline" ||
		r.Header.Get("X-Content-Type-Options") != "nosniff" || r.Header.Get("Content-Security-Policy") != "sandbox" {
		t.Fatalf("file without a token: %d %v", r.Status, r.Header)
	}
	if r := anon.do("GET", *pic.ThumbnailURL, nil); r.Status != 200 || r.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("thumbnail: %d %v", r.Status, r.Header)
	}
	r = anon.do("GET", large.URL, nil, "Range", "bytes=0-6")
	if r.Status != 206 || string(r.Body) != "parley " || !strings.HasPrefix(r.Header.Get("Content-Disposition"), "attachment;") {
		t.Fatalf("range of the large file: %d %q %v", r.Status, r.Body, r.Header)
	}
	// A forged signature is refused by chat-service, through the gateway.
	forged := pic.URL[:strings.Index(pic.URL, "&sig=")] + "&sig=forged"
	if r := anon.do("GET", forged, nil); r.Status != 403 || r.errCode(t) != "invalid_signature" {
		t.Fatalf("forged: %d %s", r.Status, r.Body)
	}
	// Uploading still needs a token.
	body, ctype = multipartFile(t, "file", "x.txt", []byte("x"))
	if r := anon.do("POST", filesPath, body, "Content-Type", ctype); r.Status != 401 {
		t.Fatalf("anonymous upload: %d %s", r.Status, r.Body)
	}
}
