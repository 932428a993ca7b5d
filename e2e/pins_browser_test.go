package e2e

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserPins drives pins in the SPA: Alice pins a message from its
// actions; Bob's window shows the marker and the header's count live; his
// pins pane lists it (author, time, who pinned it) and a click jumps to
// the message far up the room, highlighted and focused; Escape closes the
// pane back to its button; Alice's unpin empties Bob's pane live; on a
// phone the pane is a full screen that steps aside for the message.
func TestBrowserPins(t *testing.T) {
	chromiumPath(t)
	s := startStack(t, map[string]string{"SEND_RATE": "100000", "SEND_BURST": "100000", "USER_RATE_LIMIT_RPS": "100000", "USER_RATE_LIMIT_BURST": "100000"})
	b := startBrowser(t)
	alice := b.newTab("alice", s.FrontendURL)
	defer alice.checkClean()
	bob := b.newTab("bob", s.FrontendURL)
	defer bob.checkClean()
	gw := &api{t: t, base: s.Gateway.URL}

	alice.register("alice")
	bob.register("bob")
	var aliceS, bobS session
	gw.must(200, "POST", "/api/auth/login", map[string]string{"username": "alice", "password": password}, &aliceS)
	gw.must(200, "POST", "/api/auth/login", map[string]string{"username": "bob", "password": password}, &bobS)
	aliceAPI, bobAPI := gw.with(aliceS.AccessToken), gw.with(bobS.AccessToken)

	const body = "Release checklist: tag, build, smoke test, announce"
	alice.send(body)
	bob.wait("the message on Bob's side", hasBody(body))
	msgOf := fmt.Sprintf(`[...document.querySelectorAll('[data-testid=message-list] [data-testid=message]')].find(m => m.querySelector('[data-testid=message-body]')?.textContent === %q)`, body)
	id := eval[string](bob, msgOf+`.dataset.id`)

	// ---- Alice pins it from the message's actions ---------------------------

	pinBtn := msgOf + `?.querySelector('[data-testid=pin-message]')`
	if label := eval[string](alice, pinBtn+`.getAttribute('aria-label')`); label != "Pin message" {
		t.Errorf("the action is labelled %q, want Pin message", label)
	}
	eval[chromedp.Void](alice, pinBtn+`.click()`)
	alice.wait("the marker on Alice's side, the action now Unpin, and the announcement",
		msgOf+`?.querySelector('[data-testid=pin-marker]')?.textContent === 'Pinned by alice' && `+pinBtn+`.getAttribute('aria-label') === 'Unpin message'
		&& document.querySelector('[data-testid=announcer]').textContent.includes('Message pinned')`)
	// The marker is part of the message's accessible name.
	if !eval[bool](alice, msgOf+`.getAttribute('aria-labelledby').split(' ').includes(`+msgOf+`.querySelector('[data-testid=pin-marker]').id)`) {
		t.Errorf("the pin marker is not in the message's name")
	}

	// ---- Bob sees it live ----------------------------------------------------

	bob.wait("the marker live on Bob's side", msgOf+`?.querySelector('[data-testid=pin-marker]')?.textContent === 'Pinned by alice'`)
	bob.wait("the header counts 1 pin", `document.querySelector('[data-testid=pins-count]')?.textContent === '1' && document.querySelector('[data-testid=pins-toggle]').getAttribute('aria-label') === 'Pinned messages: 1'`)

	// Enough conversation after it that it is far out of view.
	if err := <-seedHistory(t, aliceAPI, bobAPI, 1, 80); err != nil {
		t.Fatal(err)
	}
	var last message
	bobAPI.must(201, "POST", "/api/chat/rooms/1/messages", map[string]string{"body": "And that is the end of it"}, &last)
	bob.wait("the newest message on Bob's side", hasBody("And that is the end of it"))
	if eval[bool](bob, `!!document.querySelector('[data-testid=message-list] .msg[data-id="`+id+`"]')`) {
		// Still rendered: scrolled out of view is enough.
		bob.wait("the pinned message out of view", `(() => { const m = document.querySelector('[data-testid=message-list] .msg[data-id="`+id+`"]');
			return !m || m.getBoundingClientRect().bottom < document.querySelector('.room .scroller').getBoundingClientRect().top; })()`)
	}

	// ---- the pins pane ------------------------------------------------------------

	bob.click("pins-toggle")
	item := `document.querySelector('[data-testid=pins-pane] [data-testid=pin-item][data-id="` + id + `"]')`
	bob.wait("the pane listing the pin, its heading focused", item+`?.textContent.includes(`+fmt.Sprintf("%q", body)+`) && `+item+`.textContent.includes('alice') && `+item+`.textContent.includes('Pinned by alice')
		&& document.activeElement?.id === document.querySelector('[data-testid=pins-pane]').getAttribute('aria-labelledby')
		&& document.querySelector('[data-testid=pins-toggle]').getAttribute('aria-pressed') === 'true'
		&& document.querySelector('[data-testid=pins-summary]').textContent === '1 pinned message'`)
	if href := eval[string](bob, item+`.getAttribute('href')`); href != "/rooms/1?m="+id {
		t.Errorf("the pin links to %q", href)
	}
	a := bob.audit("pins pane")
	a.axTree(axWant{app: true, messages: true})
	a.contrast()
	bob.setDark(true)
	bob.audit("pins pane, dark").contrast()
	bob.setDark(false)

	// A click jumps to the message: highlighted, in view, focused.
	bob.jsClick(`[data-testid=pins-pane] [data-testid=pin-item][data-id="` + id + `"]`)
	bob.wait("the pinned message highlighted, in view and focused", `(() => { const m = document.querySelector('[data-testid=message-list] .msg.highlight[data-id="`+id+`"]'); if (!m) return false;
		const r = m.getBoundingClientRect(), s = document.querySelector('.room .scroller').getBoundingClientRect();
		return r.top >= s.top && r.bottom <= s.bottom && document.activeElement === m; })()`)
	if !eval[bool](bob, `!!document.querySelector('[data-testid=pins-pane]')`) {
		t.Errorf("the pane closed on a desktop")
	}
	bob.screenshot("pins-pane")

	// Escape closes the pane; the focus goes back to its button.
	bob.focusOn(`[data-testid=pins-pane] [data-testid=pin-item]`)
	bob.press("Escape")
	bob.wait("the pane closed, the focus on its button", `!document.querySelector('[data-testid=pins-pane]') && document.activeElement?.dataset.testid === 'pins-toggle'
		&& document.querySelector('[data-testid=pins-toggle]').getAttribute('aria-pressed') === 'false'`)

	// ---- Alice unpins: Bob's pane empties live -------------------------------------

	bob.click("pins-toggle")
	bob.wait("the pane again", `!!`+item)
	eval[chromedp.Void](alice, pinBtn+`.click()`)
	alice.wait("no marker on Alice's side, the action Pin again", `!`+msgOf+`.querySelector('[data-testid=pin-marker]') && `+pinBtn+`.getAttribute('aria-label') === 'Pin message'
		&& document.querySelector('[data-testid=announcer]').textContent.includes('Message unpinned')`)
	bob.wait("Bob's pane empty, the count gone", `!`+item+` && document.querySelector('[data-testid=pins-pane]').textContent.includes('No pinned messages yet')
		&& document.querySelector('[data-testid=pins-count]').hidden && document.querySelector('[data-testid=pins-toggle]').getAttribute('aria-label') === 'Pinned messages: 0'`)
	bob.wait("no marker on Bob's side", `!document.querySelector('[data-testid=message-list] .msg[data-id="`+id+`"] [data-testid=pin-marker]')`)
	var pins struct {
		Messages []message `json:"messages"`
	}
	bobAPI.must(200, "GET", "/api/chat/rooms/1/pins", nil, &pins)
	if len(pins.Messages) != 0 {
		t.Errorf("pins after the unpin: %+v", pins.Messages)
	}
	bob.click("pins-close")
	bob.wait("the pane closed", `!document.querySelector('[data-testid=pins-pane]')`)

	// ---- a phone: the pane is a full screen that steps aside ----------------------

	aliceAPI.must(200, "POST", "/api/chat/rooms/1/pins/"+id, nil, nil)
	bob.wait("the count back to 1", `document.querySelector('[data-testid=pins-toggle]').getAttribute('aria-label') === 'Pinned messages: 1'`)
	bob.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateTouch))
	bob.click("pins-toggle")
	bob.wait("the pane over the whole screen with its back button", `(() => { const p = document.querySelector('[data-testid=pins-pane]'); if (!p) return false; const r = p.getBoundingClientRect();
		return r.left === 0 && r.top === 0 && r.width === innerWidth && r.height === innerHeight && getComputedStyle(document.querySelector('[data-testid=pins-back]')).display !== 'none' && !!`+item+`; })()`)
	bob.screenshot("pins-pane-phone")
	bob.jsClick(`[data-testid=pins-pane] [data-testid=pin-item][data-id="` + id + `"]`)
	bob.wait("the pane gone and the message highlighted in view", `(() => { if (document.querySelector('[data-testid=pins-pane]')) return false;
		const m = document.querySelector('[data-testid=message-list] .msg.highlight[data-id="`+id+`"]'); if (!m) return false;
		const r = m.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; })()`)
	bob.do(chromedp.EmulateViewport(1280, 800))

	if os.Getenv("PARLEY_UPDATE_SCREENSHOTS") != "" {
		for _, name := range []string{"pins-pane", "pins-pane-phone"} {
			in, err := os.Open(filepath.Join(screenshotDir, name+".png"))
			if err != nil {
				t.Fatal(err)
			}
			out, err := os.Create(filepath.Join("..", "docs", "screenshots", name+".png"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(out, in); err != nil {
				t.Fatal(err)
			}
			in.Close()
			out.Close()
		}
	}
}
