package e2e

import (
	"testing"
)

// POST /dms asks the real user directory: a user registered through the
// API alone (never seen by chat- or user-service) gets a DM named by the
// directory; an id that is no user is 404 user_not_found; with user-service
// down it is 503 directory_unavailable, and no DM is made.
func TestDirectMessagesAskTheDirectory(t *testing.T) {
	s := startStack(t)
	anon := &api{t: t, base: s.Gateway.URL}
	register := func(name string) session {
		var out session
		anon.must(201, "POST", "/api/auth/register", map[string]string{"username": name, "password": "correct horse"}, &out)
		return out
	}
	alice, bob, carol := register("alice"), register("bob"), register("carol")
	a := anon.with(alice.AccessToken)

	type dmView struct {
		ID     int64  `json:"id"`
		Kind   string `json:"kind"`
		Name   string `json:"name"`
		DMUser *struct {
			UserID   int64  `json:"user_id"`
			Username string `json:"username"`
		} `json:"dm_user"`
	}
	var dm dmView
	// The SPA also sends the directory's username (commit ceea593); the
	// directory's own answer names the person.
	a.must(201, "POST", "/api/chat/dms", map[string]any{"user_id": bob.User.ID, "username": "bob"}, &dm)
	if dm.Kind != "dm" || dm.DMUser == nil || dm.DMUser.UserID != bob.User.ID || dm.DMUser.Username != "bob" {
		t.Fatalf("dm with bob = %+v", dm)
	}
	var again dmView
	a.must(200, "POST", "/api/chat/dms", map[string]any{"user_id": bob.User.ID}, &again)
	if again.ID != dm.ID {
		t.Fatalf("second open made room %d, want %d", again.ID, dm.ID)
	}

	if r := a.do("POST", "/api/chat/dms", map[string]any{"user_id": carol.User.ID + 1000}); r.Status != 404 || r.errCode(t) != "user_not_found" {
		t.Fatalf("dm with no user: %d %s", r.Status, r.Body)
	}

	if err := s.User.Stop(); err != nil {
		t.Fatal(err)
	}
	if r := a.do("POST", "/api/chat/dms", map[string]any{"user_id": carol.User.ID, "username": "carol"}); r.Status != 503 || r.errCode(t) != "directory_unavailable" {
		t.Fatalf("dm with user-service down: %d %s", r.Status, r.Body)
	}
	var rooms struct {
		Rooms []dmView `json:"rooms"`
	}
	a.must(200, "GET", "/api/chat/rooms", nil, &rooms)
	for _, r := range rooms.Rooms {
		if r.DMUser != nil && r.DMUser.UserID == carol.User.ID {
			t.Fatalf("a dm with carol was made while the directory was down: %+v", r)
		}
	}
}
