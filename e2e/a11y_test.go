package e2e

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
)

// TestBrowserAccessibility is the WCAG 2.2 AA pass over every screen and
// overlay of the SPA, in both themes, at desktop, phone and 320 px widths
// (docs/ACCESSIBILITY.md maps each criterion to the check here). Every
// failure names the screen and the element.
func TestBrowserAccessibility(t *testing.T) {
	chromiumPath(t)
	began := time.Now()
	// The long-task phase seeds 2,000 messages: the per-user send rate is lifted.
	s := startStack(t, map[string]string{"SEND_RATE": "100000", "SEND_BURST": "100000", "USER_RATE_LIMIT_RPS": "100000", "USER_RATE_LIMIT_BURST": "100000"})
	b := startBrowser(t)
	alice := b.newTab("alice", s.FrontendURL)
	defer alice.checkClean()
	alice.setDark(false)
	gw := &api{t: t, base: s.Gateway.URL}
	looks := map[string]bool{} // kinds of element whose focus look was compared

	// full audits a screen: the accessibility tree, contrast in both
	// themes and the keyboard walk from where the focus is.
	full := func(p *tab, screen string, want axWant, walk walkOpts) *audit {
		t.Helper()
		a := p.audit(screen)
		a.axTree(want)
		a.contrast()
		p.setDark(true)
		d := p.audit(screen + ", dark")
		d.contrast()
		p.setDark(false)
		walk.looks = looks
		a.keyboardWalk(walk)
		return a
	}

	// ---- screens without a session ----------------------------------------

	alice.open("/login")
	alice.wait("the login form", `document.activeElement?.dataset.testid === 'login-username'`)
	if got := eval[string](alice, `document.title`); got != "Sign in · Parley" {
		t.Errorf("[login] document.title = %q", got)
	}
	full(alice, "login", axWant{}, walkOpts{})
	alice.open("/register")
	alice.wait("the register form", `!!document.querySelector('[data-testid=register-submit]')`)
	alice.click("register-submit") // empty: each field says what is wrong
	alice.wait("the field errors", `document.querySelectorAll('[aria-invalid=true]').length === 2`)
	a := alice.audit("register, with errors")
	a.expectFocus("after a failed submit", `[data-testid=register-username]`)
	full(alice, "register, with errors", axWant{}, walkOpts{})

	// ---- accounts and a conversation ----------------------------------------

	alice.register("alice")
	bobTab := b.newTab("bob", s.FrontendURL)
	bobTab.register("bob") // through the UI: both are in the directory
	bobTab.open("/login")  // bob's page rests; bob acts through the API from here
	var aliceS, bobS session
	gw.must(200, "POST", "/api/auth/login", map[string]string{"username": "alice", "password": password}, &aliceS)
	gw.must(200, "POST", "/api/auth/login", map[string]string{"username": "bob", "password": password}, &bobS)
	aliceAPI, bobAPI := gw.with(aliceS.AccessToken), gw.with(bobS.AccessToken)
	var design, history room
	aliceAPI.must(201, "POST", "/api/chat/rooms", map[string]string{"name": "design-review", "description": "Critique, mockups and decisions", "kind": "public"}, &design)
	aliceAPI.must(201, "POST", "/api/chat/rooms", map[string]string{"name": "history", "kind": "public"}, &history)
	bobAPI.must(200, "POST", fmt.Sprintf("/api/chat/rooms/%d/join", design.ID), nil, nil)
	bobAPI.must(200, "POST", fmt.Sprintf("/api/chat/rooms/%d/join", history.ID), nil, nil)
	post := func(c *api, roomID int64, body string) message {
		t.Helper()
		var m message
		c.must(201, "POST", fmt.Sprintf("/api/chat/rooms/%d/messages", roomID), map[string]string{"body": body}, &m)
		return m
	}
	post(bobAPI, design.ID, "Morning! The new mockups are at https://example.com/mockups?v=2")
	bobNit := post(bobAPI, design.ID, "One nit: the sidebar spacing feels tight on phones.")
	mine := post(aliceAPI, design.ID, "Good catch, I will bump it to 12px")
	aliceAPI.must(200, "POST", fmt.Sprintf("/api/chat/messages/%d/reactions/%s", bobNit.ID, url.PathEscape("👍")), nil, nil)
	aliceAPI.must(200, "PATCH", fmt.Sprintf("/api/chat/messages/%d", mine.ID), map[string]string{"body": "Good catch, I will bump it to 12px and post a new build."}, nil)
	seeded := seedHistory(t, aliceAPI, bobAPI, history.ID, 2000)

	// ---- the signed-in screens ----------------------------------------------

	roomPath := fmt.Sprintf("/rooms/%d", design.ID)
	alice.open(roomPath)
	alice.wait("the room, its heading focused", jsRoomTitle+` === 'design-review' && document.activeElement?.dataset.testid === 'room-title' && document.querySelectorAll('[data-testid=message]').length === 3 && document.querySelector('[data-testid=member-panel]')?.hidden === false && !!document.querySelector('[data-testid=member-item]')`)
	if got := eval[string](alice, `document.title`); !titleRE("design-review").MatchString(got) {
		t.Errorf("[room] document.title = %q", got)
	}
	full(alice, "room", axWant{app: true, messages: true}, walkOpts{})
	// Both ways: Shift+Tab from the composer reaches every stop too, the
	// newest message's actions among the first.
	back := alice.audit("room, Shift+Tab from the composer")
	order := back.keyboardWalk(walkOpts{backward: true, from: tid("composer")})
	if len(order) > 0 {
		stops := a11yEval[[]tabStop](alice, `A.tabbables()`)
		first := descs(stops, order[:min(4, len(order))])
		if !strings.Contains(strings.Join(first, " "), "delete-message") {
			back.fail("Shift+Tab from the composer does not reach the newest message's actions first: %v", first)
		}
	}
	feedWalk(alice)

	pages := []struct{ name, path, ready string }{
		{"browse", "/browse", `!!document.querySelector('[data-testid=browse-room]')`},
		{"search", "/search?q=mockups", `!!document.querySelector('[data-testid=search-hit]')`},
		{"own profile", "/profile", `!!document.querySelector('[data-testid=profile-save]')`},
		{"someone's profile", fmt.Sprintf("/users/%d", bobS.User.ID), `!!document.querySelector('[data-testid=profile-message]')`},
		{"settings", "/settings", `!!document.querySelector('[data-testid=password-save]')`},
		{"not found", "/nowhere", `!!document.querySelector('.empty')`},
	}
	for _, pg := range pages {
		alice.open(pg.path)
		alice.wait(pg.name, pg.ready+` && document.activeElement?.tagName === 'H1'`)
		full(alice, pg.name, axWant{app: true}, walkOpts{})
	}
	// Text spacing: with the criterion's spacing nothing is cut off or
	// pushed sideways.
	for _, path := range []string{roomPath, "/settings", "/browse"} {
		alice.open(path)
		alice.wait(path, `document.activeElement?.tagName === 'H1'`)
		a11yEval[bool](alice, `A.spacing(true)`)
		for _, bad := range a11yEval[[]string](alice, `A.reflow().concat(A.clipped())`) {
			t.Errorf("[%s with text spacing] %s", path, bad)
		}
		a11yEval[bool](alice, `A.spacing(false)`)
	}

	// The password form names what is wrong, tied to its fields.
	alice.open("/settings")
	alice.wait("settings", `!!document.querySelector('[data-testid=password-save]')`)
	alice.click("password-save")
	alice.wait("the password errors", `document.querySelector('[data-testid=password-current]').getAttribute('aria-invalid') === 'true'`)
	pw := alice.audit("settings, password errors")
	if txt := eval[string](alice, `document.querySelector('[data-testid=password-error]').textContent`); strings.Contains(txt, "current_password") || !strings.Contains(txt, "current password") {
		pw.fail("the password error says %q", txt)
	}
	pw.axTree(axWant{app: true})
	pw.contrast()

	admin := b.newTab("admin", s.FrontendURL)
	defer admin.checkClean()
	admin.setDark(false)
	admin.login("admin", adminPassword)
	admin.open("/admin")
	admin.wait("the user table", `document.querySelectorAll('[data-testid=admin-user]').length >= 3 && document.activeElement?.tagName === 'H1'`)
	ad := full(admin, "admin", axWant{app: true}, walkOpts{})
	names := eval[[]string](admin, `[...document.querySelectorAll('[data-testid=admin-disable]:not(:disabled)')].map(b => b.getAttribute('aria-label'))`)
	if len(names) < 2 || names[0] == names[1] {
		ad.fail("the Disable buttons do not name their users: %q", names)
	}

	// ---- overlays: each checked, and the focus back on its opener ------------

	alice.open(roomPath)
	alice.wait("the room", jsRoomTitle+` === 'design-review' && document.activeElement?.dataset.testid === 'room-title'`)
	overlays(t, alice, looks, mine.ID)

	// ---- live regions: each new message announced once, history never ---------

	liveRegions(t, alice, aliceAPI, bobAPI, design.ID)

	// ---- phone: the drawer is a modal dialog ---------------------------------

	alice.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateTouch))
	alice.open(roomPath)
	alice.wait("the phone layout", jsRoomTitle+` === 'design-review' && getComputedStyle(document.querySelector('[data-testid=drawer-toggle]')).display !== 'none'`)
	dr := alice.audit("phone drawer")
	alice.focusOn(tid("drawer-toggle"))
	alice.press("Enter")
	alice.wait("the drawer", `document.querySelector('[data-testid=sidebar]').getAttribute('aria-modal') === 'true' && document.querySelector('[data-testid=sidebar]').contains(document.activeElement)`)
	if !eval[bool](alice, `document.querySelector('.main-wrap').inert`) {
		dr.fail("the content behind the open drawer is not inert")
	}
	dr.axTree(axWant{app: true, dialog: true})
	dr.contrast()
	alice.setDark(true)
	alice.audit("phone drawer, dark").contrast()
	alice.setDark(false)
	dr.keyboardWalk(walkOpts{looks: looks})
	if !eval[bool](alice, `document.querySelector('[data-testid=sidebar]').contains(document.activeElement)`) {
		dr.fail("Tab left the open drawer for %s", a11yEval[string](alice, `A.desc(document.activeElement)`))
	}
	alice.press("Escape")
	dr.expectFocus("after Escape closes the drawer", tid("drawer-toggle"))

	// ---- reflow at 320 CSS px (1280 px at 400 %) -----------------------------

	alice.do(chromedp.EmulateViewport(1280, 800))
	alice.open(roomPath)
	alice.wait("the room with its members panel", `document.querySelector('[data-testid=member-panel]')?.hidden === false`)
	alice.do(chromedp.EmulateViewport(320, 640, chromedp.EmulateMobile, chromedp.EmulateTouch))
	alice.wait("the members panel to close at 320 px", `document.querySelector('[data-testid=member-panel]')?.hidden === true`)
	reflow := func(p *tab, screen string) {
		t.Helper()
		for _, bad := range a11yEval[[]string](p, `A.reflow()`) {
			t.Errorf("[%s at 320 px] %s", screen, bad)
		}
	}
	reflow(alice, "room")
	for _, pg := range pages {
		alice.open(pg.path)
		alice.wait(pg.name, pg.ready)
		reflow(alice, pg.name)
	}
	alice.open(roomPath)
	alice.wait("the room", jsRoomTitle+` === 'design-review' && document.querySelectorAll('[data-testid=message]').length >= 3`)
	alice.jsClick(`.msg[data-author="bob"] [data-testid=react-button]`)
	alice.wait("the emoji picker", `!!document.querySelector('[data-testid=emoji-picker]')`)
	reflow(alice, "emoji picker")
	alice.press("Escape")
	for _, dlg := range []struct{ opener, ready string }{{"new-dm", "dm-picker-option"}, {"new-room", "create-room-name"}} {
		alice.click("drawer-toggle")
		alice.jsClick(tid(dlg.opener))
		alice.wait(dlg.opener, fmt.Sprintf(`!!document.querySelector('dialog[open] [data-testid=%s]')`, dlg.ready))
		reflow(alice, dlg.opener+" dialog")
		alice.press("Escape")
	}
	admin.do(chromedp.EmulateViewport(320, 640, chromedp.EmulateMobile, chromedp.EmulateTouch))
	admin.open("/admin")
	admin.wait("the user table", `document.querySelectorAll('[data-testid=admin-user]').length >= 3`)
	reflow(admin, "admin")
	alice.do(chromedp.EmulateViewport(1280, 800))

	// ---- long tasks with 2,000 messages --------------------------------------

	if err := <-seeded; err != nil {
		t.Fatalf("seeding the history room: %v", err)
	}
	longTasks(t, alice, aliceAPI, bobAPI, history.ID, design.ID)
	t.Logf("accessibility pass: %s", time.Since(began).Round(time.Second))
}

// seedHistory posts n messages to a room from two users, four at a time,
// in the background; the channel reports the outcome.
func seedHistory(t *testing.T, a, b *api, roomID int64, n int) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		var next atomic.Int64
		var wg sync.WaitGroup
		var mu sync.Mutex
		var first error
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := next.Add(1)
					if i > int64(n) {
						return
					}
					c := a
					if i/5%2 == 1 {
						c = b
					}
					err := postQuiet(c, roomID, fmt.Sprintf("History message %d: %s", i, strings.Repeat("lorem ipsum ", int(i%7)+1)))
					if err != nil {
						mu.Lock()
						if first == nil {
							first = err
						}
						mu.Unlock()
						return
					}
				}
			}()
		}
		wg.Wait()
		done <- first
	}()
	return done
}

// feedWalk checks the roving tabindex: one Tab stop in the message list,
// the arrow keys, Home and End over every message, the toolbar's arrows,
// and Escape to the composer.
func feedWalk(p *tab) {
	p.t.Helper()
	a := p.audit("room, message list")
	stops := eval[int](p, `document.querySelectorAll('[data-testid=message-list] .msg[tabindex="0"]').length`)
	if stops != 1 {
		a.fail("%d messages are Tab stops, want exactly 1", stops)
	}
	p.focusOn(`[data-testid=message-list] .msg[tabindex="0"]`)
	p.press("End")
	n := eval[int](p, `document.querySelectorAll('[data-testid=message-list] .msg[data-id]').length`)
	seen := map[string]bool{eval[string](p, `document.activeElement.dataset.id`): true}
	for i := 0; i < n+1; i++ {
		p.press("ArrowUp")
		seen[eval[string](p, `document.activeElement.dataset.id ?? ''`)] = true
	}
	if len(seen) != n {
		a.fail("the Up arrow reached %d of %d messages", len(seen), n)
	}
	p.press("End")
	a.expectFocusJS("End", "the newest message", jsIsMessage("at(-1)"))
	p.press("Home")
	a.expectFocusJS("Home", "the oldest message", jsIsMessage("at(0)"))
	if eval[int](p, `document.querySelectorAll('[data-testid=message-list] .msg[tabindex="0"]').length`) != 1 || !eval[bool](p, `document.activeElement.tabIndex === 0`) {
		a.fail("the Tab stop did not move with the arrow keys")
	}
	// Bob's message: Tab from it reaches its own controls, the toolbar included.
	p.focusOn(`.msg[data-author="bob"]:has([data-testid=reactions])`)
	reached := map[string]bool{}
	for i := 0; i < 8; i++ {
		p.press("Tab")
		reached[eval[string](p, `document.activeElement.dataset.testid ?? document.activeElement.className`)] = true
		if eval[bool](p, `document.activeElement.dataset.testid === 'react-button'`) {
			break
		}
	}
	if !reached["react-button"] || !reached["reaction-chip"] {
		a.fail("Tab from a message does not reach its reactions and actions: %v", reached)
	}
	p.press("ArrowRight")
	if eval[string](p, `document.activeElement.closest('[role=toolbar]') ? document.activeElement.dataset.testid : ''`) == "react-button" {
		a.fail("the Right arrow does not move along the message actions")
	}
	p.press("Escape")
	a.expectFocus("Escape in the message list", tid("composer"))
}

// overlays opens each dialog, menu and picker from the keyboard, checks it,
// closes it and checks the focus is back where it was.
func overlays(t *testing.T, p *tab, looks map[string]bool, mineID int64) {
	t.Helper()
	dialog := func(screen, opener, ready string, extra func(a *audit)) {
		t.Helper()
		a := p.audit(screen)
		p.focusOn(opener)
		p.press("Enter")
		p.wait(screen, `!!document.querySelector('dialog[open]') && `+ready)
		if extra != nil {
			extra(a)
		}
		a.axTree(axWant{app: true, dialog: true})
		a.contrast()
		p.setDark(true)
		p.audit(screen + ", dark").contrast()
		p.setDark(false)
		a.keyboardWalk(walkOpts{looks: looks})
		p.press("Escape")
		p.wait("the dialog to close", `!document.querySelector('dialog[open]')`)
		a.expectFocus("after the dialog closed", opener)
	}
	menu := func(screen, opener string, choose string) {
		t.Helper()
		a := p.audit(screen)
		p.focusOn(opener)
		p.press("Enter")
		p.wait(screen, `!!document.querySelector('[role=menu]') && document.activeElement?.getAttribute('role') === 'menuitem'`)
		if eval[string](p, fmt.Sprintf(`document.querySelector(%q).getAttribute('aria-expanded')`, opener)) != "true" {
			a.fail("%s does not say it is expanded", opener)
		}
		if choose == "" {
			a.axTree(axWant{app: true})
			a.contrast()
			p.setDark(true)
			p.audit(screen + ", dark").contrast()
			p.setDark(false)
			arrowWalk(a, `[role=menu] [role=menuitem]`, "ArrowDown", looks)
			p.press("Escape")
			a.expectFocus("after Escape closes the menu", opener)
			if eval[string](p, fmt.Sprintf(`document.querySelector(%q).getAttribute('aria-expanded')`, opener)) != "false" {
				a.fail("%s still says it is expanded", opener)
			}
			return
		}
		for i := 0; i < 8 && !eval[bool](p, fmt.Sprintf(`document.activeElement.matches(%q)`, choose)); i++ {
			p.press("ArrowDown")
		}
		p.press("Enter")
	}

	dialog("create-room dialog", tid("new-room"), `!!document.querySelector('[data-testid=create-room-name]')`, func(a *audit) {
		p.press("Enter") // submit empty: the name field says what is missing
		p.wait("the name error", `document.querySelector('[data-testid=create-room-name]').getAttribute('aria-invalid') === 'true'`)
	})
	dialog("new-DM dialog", tid("new-dm"), `!!document.querySelector('[data-testid=dm-picker-option]')`, func(a *audit) {
		p.press("ArrowDown")
		p.press("ArrowDown")
		if !eval[bool](p, `(() => { const id = document.querySelector('[data-testid=dm-picker-input]').getAttribute('aria-activedescendant');
			const sel = [...document.querySelectorAll('[role=option][aria-selected=true]')];
			return !!id && sel.length === 1 && sel[0].id === id && sel[0] === document.querySelectorAll('[role=option]')[1]; })()`) {
			a.fail("the Down arrow in the people search does not make the second option the active, selected one")
		}
	})
	menu("room menu", tid("room-menu"), "")
	menu("account menu", tid("account-menu"), "")
	menu("room menu → invite", tid("room-menu"), tid("invite-people"))
	inv := p.audit("invite dialog")
	p.wait("the invite dialog", `!!document.querySelector('dialog[open] [data-testid=invite-picker-status]') && document.querySelector('[data-testid=invite-picker-status]').textContent !== ''`)
	p.setValue(tid("invite-picker-input"), "bob") // bob is already in the room
	p.wait("the search for bob", `document.querySelector('[data-testid=invite-picker-status]').textContent.startsWith('Everyone') || document.querySelector('[data-testid=invite-picker-status]').textContent.startsWith('Nobody')`)
	if txt := eval[string](p, `document.querySelector('[data-testid=invite-picker-status]').textContent`); txt != "Everyone found is already a member." {
		inv.fail("with everyone a member the invite picker says %q", txt)
	}
	inv.axTree(axWant{app: true, dialog: true})
	inv.contrast()
	p.press("Escape")
	inv.expectFocus("after the invite dialog opened from the menu closed", tid("room-menu"))
	menu("room menu → edit", tid("room-menu"), tid("edit-room"))
	ed := p.audit("edit-room dialog")
	p.wait("the edit dialog", `!!document.querySelector('dialog[open] [data-testid=edit-room-name]')`)
	ed.axTree(axWant{app: true, dialog: true})
	ed.contrast()
	p.press("Escape")
	ed.expectFocus("after the edit dialog closed", tid("room-menu"))
	menu("account menu → settings", tid("account-menu"), tid("nav-settings"))
	st := p.audit("account menu → settings")
	p.wait("settings", `!!document.querySelector('[data-testid=settings-view]')`)
	st.expectFocus("after navigating from the menu", `h1`)
	if got := eval[string](p, `document.title`); !titleRE("Settings").MatchString(got) {
		st.fail("document.title = %q", got)
	}
	p.do(chromedp.NavigateBack())
	p.wait("the room again", jsRoomTitle+` === 'design-review' && document.querySelectorAll('[data-testid=message]').length === 3`)

	// The members toggle re-renders the header: the focus stays on it.
	mt := p.audit("members toggle")
	p.focusOn(tid("members-toggle"))
	p.press("Enter")
	p.wait("the panel to hide", `document.querySelector('[data-testid=member-panel]').hidden`)
	mt.expectFocus("after hiding the members", tid("members-toggle"))
	p.press("Enter")
	p.wait("the panel to show", `document.querySelector('[data-testid=member-panel]')?.hidden === false`)
	mt.expectFocus("after showing the members", tid("members-toggle"))

	// The emoji picker keeps Tab inside and gives the focus back, even when
	// the reaction re-renders the message.
	own := fmt.Sprintf(`.msg[data-id="%d"]`, mineID)
	ep := p.audit("emoji picker")
	p.focusOn(own + " " + tid("react-button"))
	p.press("Enter")
	p.wait("the emoji picker", `document.activeElement?.dataset.testid === 'emoji-option'`)
	ep.axTree(axWant{app: true})
	ep.contrast()
	arrowWalk(ep, `[data-testid=emoji-picker] button`, "ArrowRight", looks)
	for i := 0; i < 10; i++ {
		p.press("Tab")
	}
	if !eval[bool](p, `!!document.activeElement.closest('[data-testid=emoji-picker]')`) {
		ep.fail("Tab left the open emoji picker for %s", a11yEval[string](p, `A.desc(document.activeElement)`))
	}
	p.press("Escape")
	ep.expectFocus("after Escape closes the picker", own+" "+tid("react-button"))
	p.press("Enter")
	p.wait("the emoji picker", `document.activeElement?.dataset.testid === 'emoji-option'`)
	p.press("ArrowRight")
	p.press("Enter")
	p.wait("the reaction", fmt.Sprintf(`!!document.querySelector(%q)`, own+` [data-testid=reaction-chip][data-emoji="❤️"]`))
	ep.expectFocus("after picking a reaction", own+" "+tid("react-button"))

	// Editing from the Edit button, cancelled with Escape.
	eb := p.audit("edit message")
	p.focusOn(own + " " + tid("edit-message"))
	p.press("Enter")
	p.wait("the edit box", `document.activeElement?.dataset.testid === 'edit-input'`)
	p.press("Escape")
	eb.expectFocus("after cancelling the edit", own+" "+tid("edit-message"))

	// The delete confirmation: cancelled, the focus is back on Delete;
	// confirmed, on the message (now a tombstone), never on <body>.
	dl := p.audit("delete confirmation")
	p.focusOn(own + " " + tid("delete-message"))
	p.press("Enter")
	p.wait("the confirmation", `!!document.querySelector('dialog[open] [data-testid=confirm-ok]')`)
	dl.axTree(axWant{app: true, dialog: true})
	dl.contrast()
	p.setDark(true)
	p.audit("delete confirmation, dark").contrast()
	p.setDark(false)
	p.press("Escape")
	dl.expectFocus("after cancelling", own+" "+tid("delete-message"))
	p.press("Enter")
	p.wait("the confirmation", `!!document.querySelector('dialog[open] [data-testid=confirm-ok]')`)
	p.focusOn(`dialog[open] [data-testid=confirm-ok]`)
	p.press("Enter")
	p.wait("the tombstone", fmt.Sprintf(`!!document.querySelector(%q)`, own+` [data-testid=message-deleted]`))
	dl.expectFocus("after deleting", own)

	// A user menu from an author's name.
	um := p.audit("user menu")
	p.focusOn(`.msg[data-author="bob"] [data-testid=message-author]`)
	p.press("Enter")
	p.wait("the user menu", `document.activeElement?.getAttribute('role') === 'menuitem'`)
	um.axTree(axWant{app: true})
	p.press("Escape")
	um.expectFocus("after Escape closes the user menu", `.msg[data-author="bob"] [data-testid=message-author]`)

	// Actions brought up by hovering a message can be dismissed with Escape
	// without moving the pointer (content on hover, 1.4.13).
	hv := p.audit("message actions on hover")
	bobMsg := `document.querySelector('.msg[data-author="bob"]')`
	xy := eval[[]float64](p, `(() => { const r = `+bobMsg+`.getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; })()`)
	p.do(chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, xy[0], xy[1]))
	p.wait("the actions on hover", `getComputedStyle(`+bobMsg+`.querySelector('[data-testid=message-actions]')).opacity === '1'`)
	p.focusOn(tid("composer"))
	p.press("Escape")
	if eval[string](p, `getComputedStyle(`+bobMsg+`.querySelector('[data-testid=message-actions]')).opacity`) != "0" {
		hv.fail("Escape does not hide the actions shown on hover")
	}
	p.do(chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, 2, 2))

	// Sending with the Send button keeps the focus in the composer.
	sb := p.audit("send button")
	p.typeText(tid("composer"), "Sent with the button")
	p.focusOn(tid("send"))
	p.press("Enter")
	p.wait("the sent message", hasBody("Sent with the button"))
	sb.expectFocus("after sending with the button", tid("composer"))
}

// arrowWalk moves through items with key, checking each as a Tab stop.
func arrowWalk(a *audit, items, key string, looks map[string]bool) {
	p := a.p
	p.t.Helper()
	n := eval[int](p, fmt.Sprintf(`(() => { const l = [...document.querySelectorAll(%q)]; l.forEach((e, i) => e.dataset.a11yK = String(i)); return l.length; })()`, items))
	seen := map[int]bool{}
	for i := 0; i < n+1; i++ {
		st := a11yEval[stepInfo](p, `A.step()`)
		if st.K >= 0 && !seen[st.K] {
			seen[st.K] = true
			a.checkStop(st, looks)
		}
		p.press(key)
	}
	if len(seen) != n {
		a.fail("the %s key reached %d of %d items", key, len(seen), n)
	}
}

// liveRegions counts what the live regions receive.
func liveRegions(t *testing.T, p *tab, aliceAPI, bobAPI *api, designID int64) {
	t.Helper()
	var general room
	var rooms struct{ Rooms []room }
	aliceAPI.must(200, "GET", "/api/chat/rooms?limit=200", nil, &rooms)
	for _, r := range rooms.Rooms {
		if r.Name == "General" {
			general = r
		}
	}
	expect := func(what string, n int, contains string) {
		t.Helper()
		got, log := p.liveCount()
		if got != n || (contains != "" && !strings.Contains(strings.Join(log, "\n"), contains)) {
			t.Errorf("[live regions] %s: %d insertions %q, want %d (with %q)", what, got, log, n, contains)
		}
		a11yEval[bool](p, `A.resetLive()`)
	}
	p.quiet("earlier announcements", "true", time.Second)
	a11yEval[bool](p, `A.resetLive()`)
	p.openRoom("General")
	p.quiet("General open", `!document.querySelector('.timeline-loading') && document.querySelector('[data-testid=message-list]')?.getAttribute('aria-busy') === 'false'`, time.Second)
	expect("opening a room", 0, "")
	var m message
	bobAPI.must(201, "POST", fmt.Sprintf("/api/chat/rooms/%d/messages", general.ID), map[string]string{"body": "Standup moved to 10:30"}, &m)
	p.quiet("bob's message", hasBody("Standup moved to 10:30"), time.Second)
	expect("receiving a message", 1, "bob: Standup moved to 10:30")
	p.sendText("Thanks for the heads-up")
	p.quiet("the sent message", hasBody("Thanks for the heads-up")+` && !document.querySelector('[data-testid=message-pending]')`, time.Second)
	expect("sending a message", 1, "You: Thanks for the heads-up")
	bobAPI.must(200, "POST", fmt.Sprintf("/api/chat/messages/%d/reactions/%s", m.ID, url.PathEscape("🎉")), nil, nil)
	p.quiet("the reaction", `!!document.querySelector('[data-testid=reaction-chip][data-emoji="🎉"]')`, time.Second)
	expect("a reaction", 0, "")
	var dm room
	bobAPI.must(201, "POST", "/api/chat/dms", map[string]int64{"user_id": aliceID(t, aliceAPI)}, &dm)
	bobAPI.must(201, "POST", fmt.Sprintf("/api/chat/rooms/%d/messages", dm.ID), map[string]string{"body": "lunch at noon?"}, nil)
	p.quiet("the DM", `(document.querySelector('[data-testid=room-item][data-kind=dm] [data-testid=room-preview]')?.textContent ?? '').includes('lunch at noon')`, time.Second)
	expect("a direct message in another room", 1, "Direct message from bob: lunch at noon?")
	bobAPI.must(201, "POST", fmt.Sprintf("/api/chat/rooms/%d/messages", designID), map[string]string{"body": "@alice can you look at the spacing?"}, nil)
	p.quiet("the mention", `!!document.querySelector('[data-testid=room-item][data-room-name="design-review"] [data-testid=unread-badge]')`, time.Second)
	expect("a mention in another room", 1, "bob mentioned you in design-review")
	bobAPI.must(201, "POST", fmt.Sprintf("/api/chat/rooms/%d/messages", designID), map[string]string{"body": "no mention here"}, nil)
	p.quiet("the plain message", `document.querySelector('[data-testid=room-item][data-room-name="design-review"] [data-testid=unread-badge]')?.textContent === '2'`, time.Second)
	expect("a plain message in another room", 0, "")
}

func aliceID(t *testing.T, c *api) int64 {
	t.Helper()
	var me struct {
		ID int64 `json:"id"`
	}
	c.must(200, "GET", "/api/users/profiles/me", nil, &me)
	return me.ID
}

// longTasks measures the main thread while a room holding 2,000 messages
// opens, receives and sends; the figures go to the log and to
// test-output/a11y-longtasks.json (docs/BENCHMARKS.md).
func longTasks(t *testing.T, p *tab, aliceAPI, bobAPI *api, historyID, designID int64) {
	t.Helper()
	type figure struct {
		LongTasks int     `json:"longTasks"`
		Longest   float64 `json:"longest"`
		Gap       float64 `json:"gap"`
	}
	results := map[string]figure{}
	measure := func(phase string, act func()) {
		t.Helper()
		a11yEval[bool](p, `A.startProbe()`)
		act()
		f := a11yEval[figure](p, `A.stopProbe()`)
		results[phase] = f
		t.Logf("long tasks while %s: %d (longest %.0f ms); longest main-thread turn %.1f ms", phase, f.LongTasks, f.Longest, f.Gap)
	}
	// Scroll all the way back: every message is loaded (and rendered).
	p.open(fmt.Sprintf("/rooms/%d?seq=1", historyID))
	// 40 pages one after another under the race detector: a longer deadline.
	p.waitFor("2,000 messages", `document.querySelectorAll('[data-testid=message-list] .msg[data-id]').length >= 2000`, time.Minute)
	n := 0
	receive := func(body string) func() {
		return func() {
			bobAPI.must(201, "POST", fmt.Sprintf("/api/chat/rooms/%d/messages", historyID), map[string]string{"body": body}, nil)
			p.wait("the message", hasBody(body))
		}
	}
	send := func(body string) func() {
		return func() {
			p.sendText(body)
			p.wait("the acknowledged message", hasBody(body)+` && !document.querySelector('[data-testid=message-pending]')`)
		}
	}
	n++
	measure("receiving with 2,000 rendered", receive(fmt.Sprintf("live %d", n)))
	n++
	measure("sending with 2,000 rendered", send(fmt.Sprintf("mine %d", n)))
	measure("leaving the room with 2,000 rendered", func() {
		p.openRoom("design-review")
		p.wait("the list", `document.querySelector('[data-testid=message-list]')?.getAttribute('aria-busy') === 'false'`)
	})
	p.openRoom("General")
	// The baseline: a room of a few messages, opened the same way.
	measure("opening a room of a few messages (baseline)", func() {
		p.openRoom("design-review")
		p.wait("the list", `document.querySelector('[data-testid=message-list]')?.getAttribute('aria-busy') === 'false'`)
	})
	measure("opening the room holding 2,000", func() {
		p.openRoom("history")
		p.wait("the list", `document.querySelector('[data-testid=message-list]')?.getAttribute('aria-busy') === 'false'`)
	})
	n++
	measure("receiving", receive(fmt.Sprintf("live %d", n)))
	n++
	measure("sending", send(fmt.Sprintf("mine %d", n)))
	a := p.audit("room with 2,000 messages")
	p.focusOn(`[data-testid=message-list] .msg[tabindex="0"]`)
	// Home goes to the oldest message rendered (and, at the top, more are
	// then rendered above it: the focus stays where Home put it).
	first := eval[string](p, `document.querySelector('[data-testid=message-list] .msg[data-id]').dataset.id`)
	p.press("Home")
	a.expectFocus("Home", fmt.Sprintf(`.msg[data-id=%q]`, first))
	p.press("End")
	a.expectFocusJS("End", "the newest message", jsIsMessage("at(-1)"))
	if err := os.MkdirAll(filepath.Join("..", "test-output"), 0o755); err == nil {
		raw, _ := json.MarshalIndent(results, "", "  ")
		_ = os.WriteFile(filepath.Join("..", "test-output", "a11y-longtasks.json"), raw, 0o644)
	}
}

// titleRE matches the document title of a view, with or without an unread count.
func titleRE(view string) *regexp.Regexp {
	return regexp.MustCompile(`^(\(\d+\+?\) )?` + regexp.QuoteMeta(view) + ` · Parley$`)
}

// jsIsMessage says whether the focus is on the message list's message at(i).
func jsIsMessage(at string) string {
	return `document.activeElement === [...document.querySelectorAll('[data-testid=message-list] .msg[data-id]')].` + at
}
