package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/parleychat/parley/platform/testkit"
)

// TestBrowserAdminRoomsAndUsage drives the admin page's rooms and usage
// sections: the figures reflect the messages sent, the rooms list shows
// member counts, archiving a room reaches a member's open page live,
// deleting a room takes it out of the member's sidebar, and a non-admin
// gets neither the page nor the API.
func TestBrowserAdminRoomsAndUsage(t *testing.T) {
	chromiumPath(t)
	s := startStack(t)
	gw := &api{t: t, base: s.Gateway.URL}

	// Alice and Bob, a public and a private room, three messages.
	reg := func(name string) session {
		var sess session
		gw.must(201, "POST", "/api/auth/register", map[string]string{"username": name, "password": password}, &sess)
		return sess
	}
	alice, bob := reg("alice"), reg("bob")
	a, b := gw.with(alice.AccessToken), gw.with(bob.AccessToken)
	var launch, plans struct {
		ID int64 `json:"id"`
	}
	a.must(201, "POST", "/api/chat/rooms", map[string]string{"name": "launch", "kind": "public"}, &launch)
	a.must(201, "POST", "/api/chat/rooms", map[string]string{"name": "secret-plans", "kind": "private"}, &plans)
	lp, pp := "/api/chat/rooms/"+strconv.FormatInt(launch.ID, 10), "/api/chat/rooms/"+strconv.FormatInt(plans.ID, 10)
	b.must(200, "POST", lp+"/join", nil, nil)
	a.must(201, "POST", pp+"/members", map[string]int64{"user_id": bob.User.ID}, nil)
	a.must(201, "POST", lp+"/messages", map[string]string{"body": "T-minus one week"}, nil)
	a.must(201, "POST", lp+"/messages", map[string]string{"body": "Checklist is pinned"}, nil)
	b.must(201, "POST", pp+"/messages", map[string]string{"body": "Shh"}, nil)

	br := startBrowser(t)
	bobTab := br.newTab("bob", s.FrontendURL)
	defer bobTab.checkClean()
	bobTab.login("bob", password)
	bobTab.wait("the live connection", jsConnected)
	bobTab.openRoom("launch")

	// A non-admin gets neither the page nor the API.
	bobTab.open("/admin")
	bobTab.wait("the refusal", `!!document.querySelector('[data-testid=admin-forbidden]')`)
	for _, p := range []string{"/api/chat/admin/rooms", "/api/chat/admin/usage"} {
		if r := b.do("GET", p, nil); r.Status != 403 || r.errCode(t) != "forbidden" {
			t.Errorf("bob GET %s = %d %s, want 403 forbidden", p, r.Status, r.Body)
		}
	}
	for _, m := range []string{"PATCH", "DELETE"} {
		if r := b.do(m, "/api/chat/admin/rooms/"+strconv.FormatInt(launch.ID, 10), map[string]bool{"archived": true}); r.Status != 403 {
			t.Errorf("bob %s /api/chat/admin/rooms/%d = %d %s, want 403", m, launch.ID, r.Status, r.Body)
		}
	}
	bobTab.open("/")
	bobTab.wait("the live connection", jsConnected)
	bobTab.openRoom("launch")

	// The admin's own sign-in and socket make three active users; wait for
	// chat-service to have written them (off the request path) before the
	// page reads the figures once.
	adminTab := br.newTab("admin", s.FrontendURL)
	defer adminTab.checkClean()
	adminTab.login("admin", adminPassword)
	adminTab.wait("the live connection", jsConnected)
	var adm session
	gw.must(200, "POST", "/api/auth/login", map[string]string{"username": "admin", "password": adminPassword}, &adm)
	ad := gw.with(adm.AccessToken)
	testkit.Eventually(t, "three users active today", 10*time.Second, func() bool {
		var u struct {
			ActiveToday int64 `json:"active_today"`
		}
		ad.must(200, "GET", "/api/chat/admin/usage", nil, &u)
		return u.ActiveToday == 3
	})

	adminTab.open("/admin")
	adminTab.wait("the usage figures", `document.querySelector('[data-testid=usage-messages] .stat-value')?.textContent === '3'`)
	figures := eval[map[string]string](adminTab, `Object.fromEntries(['usage-users', 'usage-active', 'usage-messages'].map(id => [id, document.querySelector('[data-testid=' + id + '] .stat-value').textContent]))`)
	if figures["usage-users"] != "3" || figures["usage-active"] != "3" || figures["usage-messages"] != "3" {
		t.Errorf("usage figures = %v; want 3 users, 3 active, 3 messages today", figures)
	}
	chart := eval[map[string]any](adminTab, `(() => {
		const svg = document.querySelector('[data-testid=usage-chart]');
		const bars = [...svg.querySelectorAll('rect.usage-bar')];
		const rows = [...document.querySelectorAll('[data-testid=usage-table] tbody tr')];
		return { bars: bars.length, today: bars.at(-1)?.dataset.count, role: svg.getAttribute('role'),
			name: [...svg.getAttribute('aria-labelledby').split(' ')].map(id => document.getElementById(id).textContent).join(' '),
			rows: rows.length, lastRow: rows.at(-1)?.textContent };
	})()`)
	if chart["bars"] != float64(30) || chart["today"] != "3" || chart["role"] != "img" || chart["rows"] != float64(30) {
		t.Errorf("chart = %v; want 30 bars and rows, today's 3, role img", chart)
	}
	if name, _ := chart["name"].(string); name == "" || !strings.Contains(name, "Messages per day") || !strings.Contains(name, "3 messages") {
		t.Errorf("chart's accessible name and description = %q", name)
	}

	// The rooms list: every public and private room with its members.
	adminTab.wait("the rooms", `document.querySelectorAll('[data-testid=admin-room]').length === 3`)
	members := eval[map[string]string](adminTab, `Object.fromEntries([...document.querySelectorAll('[data-testid=admin-room]')].map(r => [r.dataset.roomName, r.querySelector('[data-testid=admin-room-members]').textContent]))`)
	if members["General"] != "3" || members["launch"] != "2" || members["secret-plans"] != "2" {
		t.Errorf("member counts = %v; want General 3, launch 2, secret-plans 2", members)
	}
	if eval[bool](adminTab, `!document.querySelector('[data-testid=admin-room][data-room-name=General] [data-testid=admin-room-delete]').disabled`) {
		t.Error("General's Delete button is enabled")
	}
	adminTab.screenshot("admin")

	// Archive launch, by keyboard: Bob's open room turns read-only live.
	row := func(name string) string { return fmt.Sprintf(`[data-testid=admin-room][data-room-name=%q]`, name) }
	adminTab.focusOn(row("launch") + ` [data-testid=admin-room-archive]`)
	adminTab.press("Enter")
	adminTab.wait("the confirmation", `!!document.querySelector('dialog[open] [data-testid=confirm-ok]')`)
	adminTab.jsClick(`dialog[open] [data-testid=confirm-ok]`)
	adminTab.wait("launch archived", `document.querySelector('`+row("launch")+`')?.dataset.archived === 'true' && document.querySelector('`+row("launch")+` [data-testid=admin-room-state]').textContent === 'Archived'`)
	adminTab.wait("the focus kept on the row's button", `document.activeElement?.dataset.testid === 'admin-room-archive' && document.activeElement.textContent === 'Unarchive'`)
	bobTab.wait("Bob's room read-only", `!document.querySelector('[data-testid=composer]') && document.body.textContent.includes('This room is archived')`)

	// Delete secret-plans: it leaves Bob's sidebar.
	bobTab.wait("secret-plans in Bob's sidebar", `!!document.querySelector('[data-testid=room-item][data-room-name="secret-plans"]')`)
	adminTab.jsClick(row("secret-plans") + ` [data-testid=admin-room-delete]`)
	adminTab.wait("the confirmation", `!!document.querySelector('dialog[open] [data-testid=confirm-ok]')`)
	adminTab.jsClick(`dialog[open] [data-testid=confirm-ok]`)
	adminTab.wait("secret-plans gone from the list", `!document.querySelector('`+row("secret-plans")+`') && document.querySelectorAll('[data-testid=admin-room]').length === 2`)
	bobTab.wait("secret-plans gone from Bob's sidebar", `!document.querySelector('[data-testid=room-item][data-room-name="secret-plans"]')`)
	if r := b.do("GET", pp, nil); r.Status != 404 {
		t.Errorf("bob GET the deleted room = %d", r.Status)
	}

	// Phone width: the page reflows; the rooms table scrolls within itself.
	adminTab.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateTouch))
	adminTab.open("/admin")
	adminTab.wait("the rooms on a phone", `document.querySelectorAll('[data-testid=admin-room]').length === 2 && !!document.querySelector('[data-testid=usage-chart]')`)
	if w := eval[float64](adminTab, `document.documentElement.scrollWidth - document.documentElement.clientWidth`); w > 0 {
		t.Errorf("the admin page is %v px wider than a phone", w)
	}
	adminTab.screenshot("admin-phone")
	adminTab.do(chromedp.EmulateViewport(1280, 800))

	if os.Getenv("PARLEY_UPDATE_SCREENSHOTS") != "" {
		copyScreenshotFiles(t, "admin", "admin-phone")
	}
}

// copyScreenshotFiles copies test-output screenshots into docs/screenshots.
func copyScreenshotFiles(t *testing.T, names ...string) {
	t.Helper()
	for _, name := range names {
		buf, err := os.ReadFile(filepath.Join(screenshotDir, name+".png"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("..", "docs", "screenshots", name+".png"), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
