package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// crowdMember is a user online in General through a WebSocket of its own
// (read and discarded, so the server never finds it slow).
type crowdMember struct {
	name string
	ws   *wsClient
}

// goOnline registers name and subscribes a socket of its own to room.
func goOnline(t *testing.T, s *stack, anon *api, name string, room int64) crowdMember {
	t.Helper()
	_, sess := register(t, anon, name)
	c := dialChat(t, s, sess.AccessToken)
	c.send(map[string]any{"type": "subscribe", "room_id": room})
	c.await("subscribed")
	_ = c.conn.SetReadDeadline(time.Time{})
	go func() {
		for {
			if _, _, err := c.conn.ReadMessage(); err != nil {
				return
			}
		}
	}()
	return crowdMember{name: name, ws: c}
}

// TestBrowserBigRoomPresence drives presence past the 200 a presence frame
// lists (DESIGN.md §14) in the SPA: the header and the member panel count
// everyone online; "Who's online" pages the list with Load more, the focus
// on the first name it added; past 200 online the panel lists members by
// name, 100 at a time, with dots the server was asked about
// (?user_ids=) — the offline ones too; a new subscriber's snapshot is the
// count alone, and after a reload the panel is the same from it and the
// ?user_ids= answers; back under 200 a full snapshot makes the room
// small again. On a phone the dialog fits the screen.
func TestBrowserBigRoomPresence(t *testing.T) {
	chromiumPath(t)
	s := startStack(t)
	// Two hundred sign-ups from one address: lift auth-service's per-IP
	// limit (its own tests cover it).
	if err := s.Auth.Stop(); err != nil {
		t.Fatalf("stop auth-service: %v", err)
	}
	s.authEnv["REGISTER_RATE_IP_BURST"] = "100000"
	s.restartAuth(t)

	b := startBrowser(t)
	alice := b.newTab("alice", s.FrontendURL)
	defer alice.checkClean()
	alice.register("alice")

	anon := &api{t: t, base: s.Gateway.URL}
	// Members who never come online; their names sort first. (A user
	// joins General on their first look at the room list.)
	for i := 1; i <= 3; i++ {
		away, _ := register(t, anon, fmt.Sprintf("a-away-%d", i))
		away.must(200, "GET", "/api/chat/rooms", nil, nil)
	}
	probe, probeSess := register(t, anon, "a-probe")
	var rooms struct {
		Rooms []room `json:"rooms"`
	}
	probe.must(200, "GET", "/api/chat/rooms", nil, &rooms)
	if len(rooms.Rooms) == 0 || rooms.Rooms[0].Name != "General" {
		t.Fatalf("rooms = %+v, want General first", rooms.Rooms)
	}
	general := rooms.Rooms[0].ID

	var crowd []crowdMember
	for i := 1; i <= 60; i++ {
		crowd = append(crowd, goOnline(t, s, anon, fmt.Sprintf("crowd-%03d", i), general))
	}

	// ---- a room of 61 online: counts and the paged list -----------------------

	if !eval[bool](alice, `!document.querySelector('[data-testid=member-panel]').hidden`) {
		alice.click("members-toggle")
	}
	alice.wait("61 online in the header and the panel", `document.querySelector('[data-testid=online-count]')?.textContent === '61 online'
		&& document.querySelector('[data-testid=presence-summary]')?.textContent.startsWith('61 online')
		&& document.querySelector('[data-testid=members-toggle]').getAttribute('aria-label').endsWith(', 61 online')`)
	alice.wait("the away members offline, the crowd online", `document.querySelector('[data-testid=member-item][data-username="a-away-1"]')?.dataset.online === '0'
		&& document.querySelector('[data-testid=member-item][data-username="crowd-060"]')?.dataset.online === '1'`)

	alice.focusOn(tid("whos-online"))
	alice.press("Enter")
	alice.wait("the first page", `document.querySelectorAll('[data-testid=online-item]').length === 50
		&& document.querySelector('[data-testid=online-status]').textContent === '61 online, showing 50'
		&& !document.querySelector('[data-testid=online-more]').hidden`)
	if got := eval[string](alice, `document.querySelector('[data-testid=online-item]').dataset.username`); got != "alice" {
		t.Errorf("the list starts with %q, want alice (by username)", got)
	}
	if role := eval[string](alice, `document.querySelector('[data-testid=online-status]').getAttribute('role')`); role != "status" {
		t.Errorf("the count line's role is %q, want status", role)
	}
	alice.screenshot("whos-online")
	alice.focusOn(tid("online-more"))
	alice.press(" ")
	alice.wait("the second page, the focus on its first name", `document.querySelectorAll('[data-testid=online-item]').length === 61
		&& document.querySelector('[data-testid=online-status]').textContent === '61 online'
		&& document.querySelector('[data-testid=online-more]').hidden
		&& document.activeElement?.dataset.username === 'crowd-050'`)
	names := eval[[]string](alice, `[...document.querySelectorAll('[data-testid=online-item]')].map(e => e.dataset.username)`)
	if d := firstDuplicate(names); d != "" {
		t.Errorf("%s listed twice", d)
	}
	alice.press("Escape")
	alice.wait("the dialog closed, the focus back on its button", `!document.querySelector('[data-testid=online-dialog]') && document.activeElement?.dataset.testid === 'whos-online'`)

	// ---- past 200 online: counts, rows asked about ----------------------------

	for i := 61; i <= 210; i++ {
		crowd = append(crowd, goOnline(t, s, anon, fmt.Sprintf("crowd-%03d", i), general))
	}
	bigPanel := `document.querySelector('[data-testid=online-count]')?.textContent === '211 online'
		&& document.querySelector('[data-testid=presence-summary]')?.textContent.startsWith('211 online')
		&& document.querySelectorAll('[data-testid=member-item]').length === 100
		&& !!document.querySelector('[data-testid=more-members]')
		&& document.querySelector('[data-testid=member-item]').dataset.username === 'a-away-1'
		&& document.querySelector('[data-testid=member-item][data-username="a-away-1"]').dataset.online === '0'
		&& document.querySelector('[data-testid=member-item][data-username="alice"]')?.dataset.online === '1'
		&& document.querySelector('[data-testid=member-item][data-username="crowd-090"]')?.dataset.online === '1'`
	alice.wait("a big room: counted, listed by name, the rows shown asked about", bigPanel)
	if label := eval[string](alice, `document.querySelector('[data-testid=member-item][data-username="a-away-2"]').getAttribute('aria-label')`); !strings.HasSuffix(label, ", offline") {
		t.Errorf("an away member's label: %q", label)
	}
	alice.screenshot("big-room")

	// The next hundred: the focus on the first of them, asked about too.
	alice.focusOn(tid("more-members"))
	alice.press(" ")
	alice.wait("200 rows, the focus on the 101st, its dot known", `document.querySelectorAll('[data-testid=member-item]').length === 200
		&& document.activeElement === document.querySelectorAll('[data-testid=member-item]')[100]
		&& document.querySelector('[data-testid=member-item][data-username="crowd-190"]')?.dataset.online === '1'`)

	alice.click("whos-online")
	alice.wait("the paged list of a big room", `document.querySelectorAll('[data-testid=online-item]').length === 50
		&& document.querySelector('[data-testid=online-status]').textContent === '211 online, showing 50'`)
	alice.press("Escape")

	// Past 200 a subscribe's snapshot is the count alone: no list, not
	// even a truncated one.
	pc := dialChat(t, s, probeSess.AccessToken)
	pc.send(map[string]any{"type": "subscribe", "room_id": general})
	pc.await("subscribed")
	snap := pc.await("presence")
	var count int
	_ = json.Unmarshal(snap["count"], &count)
	if _, listed := snap["online"]; listed || snap["truncated"] != nil || count < 211 {
		t.Errorf("the snapshot past 200 = %v", snap)
	}
	pc.conn.Close()

	// A reload: the count-only snapshot, the rows asked about, the same view.
	alice.open("/")
	alice.wait("General again", jsRoomTitle+` === 'General' && `+jsConnected)
	if !eval[bool](alice, `!document.querySelector('[data-testid=member-panel]').hidden`) {
		alice.click("members-toggle")
	}
	alice.wait("the big room after a reload", bigPanel)

	// ---- back under 200: a full snapshot again ---------------------------------

	for _, c := range crowd[:20] {
		c.ws.conn.Close()
	}
	alice.wait("a small room again: online first, every row known", `document.querySelector('[data-testid=online-count]')?.textContent === '191 online'
		&& !document.querySelector('[data-testid=more-members]')
		&& document.querySelector('[data-testid=member-item]').dataset.online === '1'
		&& document.querySelector('[data-testid=member-item][data-username="crowd-001"]').dataset.online === '0'
		&& !document.querySelector('[data-testid=member-item][data-online=unknown]')`)

	// ---- on a phone: the dialog fits ---------------------------------------------

	alice.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateTouch))
	alice.open("/")
	alice.wait("General on a phone", jsRoomTitle+` === 'General' && `+jsConnected)
	alice.click("members-toggle")
	alice.click("whos-online")
	alice.wait("the list on a phone, inside the screen", `document.querySelectorAll('[data-testid=online-item]').length === 50
		&& document.querySelector('[data-testid=online-dialog]').getBoundingClientRect().right <= innerWidth
		&& document.querySelector('[data-testid=online-more]').getBoundingClientRect().width > 0`)
	alice.screenshot("whos-online-phone")
	copyScreenshotFiles(t, "whos-online", "big-room", "whos-online-phone")
}
