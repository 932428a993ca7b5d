package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// Mentions and group DMs in the SPA: two users mention each other through
// the composer's autocomplete by keyboard alone; the mentioned one sees the
// "@" badge and the highlighted mention live, and the Mentions view lists
// it; switching desktop notifications on asks the browser's permission;
// three users make a group conversation from the new-message dialog, each
// sees it named by the others, and they talk in it.
func TestBrowserMentionsAndGroups(t *testing.T) {
	chromiumPath(t)
	s := startStack(t)
	b := startBrowser(t)
	alice := b.newTab("alice", s.FrontendURL)
	bob := b.newTab("bob", s.FrontendURL)
	carol := b.newTab("carol", s.FrontendURL)
	defer alice.checkClean()
	defer bob.checkClean()
	defer carol.checkClean()
	alice.register("alice")
	bob.register("bob")
	carol.register("carol")

	// Bob goes to Settings (away from General) and switches desktop
	// notifications on: the browser is asked for its permission.
	bob.click("settings-link")
	bob.wait("the settings", `!!document.querySelector('[data-testid=notify-desktop]') && !!document.querySelector('[data-testid=notify-permission]')`)
	eval[chromedp.Void](bob, `(() => { window.__asked = 0; const orig = Notification.requestPermission.bind(Notification);
		Notification.requestPermission = (...a) => { window.__asked++; return orig(...a); }; })()`)
	// (The settings are drawn again once loaded: Sound is on by default.)
	bob.wait("the loaded settings", `document.querySelector('[data-testid=notify-sound]')?.checked === true`)
	bob.wait("desktop notifications on", `(() => { const e = document.querySelector('[data-testid=notify-desktop]');
		if (!e.checked && !(window.__clickedAt > Date.now() - 3000)) { window.__clickedAt = Date.now(); e.click(); }
		return e.checked; })()`)
	// Headless Chromium has not been asked: Settings says so and asks.
	if eval[string](bob, `Notification.permission`) == "default" {
		bob.click("notify-ask")
		bob.wait("the permission request", `window.__asked > 0`)
	}

	// Alice mentions Bob in General with the keyboard: @ opens the list,
	// members first, Escape closes it, Enter picks.
	alice.focusOn(tid("composer"))
	alice.typeText(tid("composer"), "@")
	alice.wait("the mention list", `!document.querySelector('[data-testid=mention-popup]').hidden && document.querySelectorAll('[data-testid=mention-option]').length >= 3`)
	if got := eval[string](alice, `[...document.querySelectorAll('[data-testid=mention-option]')].slice(0, 2).map(o => o.dataset.username).join(',')`); got != "room,here" {
		t.Errorf("the first options are %q, want room,here", got)
	}
	alice.press("Escape")
	alice.wait("the list closed by Escape", `document.querySelector('[data-testid=mention-popup]').hidden && !document.querySelector('[data-testid=composer]').hasAttribute('aria-activedescendant')`)
	alice.typeText(tid("composer"), "bo")
	opt := `document.querySelector('[data-testid=mention-option][data-username="bob"]')`
	alice.wait("bob offered", opt+`?.dataset.member === '1'`)
	alice.wait("bob active, named by the textarea", fmt.Sprintf(`(() => { const c = document.querySelector('[data-testid=composer]');
		return c.getAttribute('aria-activedescendant') === %s.id && %s.getAttribute('aria-selected') === 'true' && c.getAttribute('aria-controls') === document.querySelector('[data-testid=mention-list]').id; })()`, opt, opt))
	alice.screenshot("mention-autocomplete")
	if status := eval[string](alice, `document.querySelector('[data-testid=mention-status]').textContent`); !strings.Contains(status, "suggestion") {
		t.Errorf("the mention status says %q", status)
	}
	alice.press("Enter")
	alice.wait("@bob inserted", `document.querySelector('[data-testid=composer]').value === '@bob ' && document.querySelector('[data-testid=mention-popup]').hidden`)
	alice.typeText(tid("composer"), "can you review the plan?")
	alice.do(pressEnter)
	alice.wait("the message sent", hasBody("@bob can you review the plan?"))

	// Bob, elsewhere, gets the @ badge live; the Mentions view lists it.
	general := `document.querySelector('[data-testid=room-item][data-room-name="General"]')`
	bob.wait("the mention badge on General", general+`?.querySelector('[data-testid=mention-badge]')?.textContent === '@' && !!`+general+`.querySelector('[data-testid=unread-badge]')`)
	if label := eval[string](bob, general+`.getAttribute('aria-label')`); !strings.Contains(label, "1 mention") {
		t.Errorf("General's label does not count the mention: %q", label)
	}
	bob.wait("the mention total in the sidebar", `document.querySelector('[data-testid=mentions-total]')?.textContent === '1'`)
	bob.click("nav-mentions")
	hit := `[...document.querySelectorAll('[data-testid=mention-hit]')].find(h => h.textContent.includes('can you review the plan?'))`
	bob.wait("the mention listed", hit+` && `+hit+`.textContent.includes('alice') && !!`+hit+`.querySelector('[data-testid=mention-me]')`)
	bob.screenshot("mentions")

	// Opening it shows the room with the mention highlighted; the badge goes.
	hitID := eval[string](bob, `document.querySelector('[data-testid=mention-hit]').dataset.id`)
	if href := eval[string](bob, `document.querySelector('[data-testid=mention-hit]').getAttribute('href')`); !strings.HasSuffix(href, "?m="+hitID) {
		t.Errorf("the mention links to %q, not its message %s", href, hitID)
	}
	bob.jsClick(`[data-testid=mention-hit]`)
	bob.wait("General at the mention", jsRoomTitle+` === 'General'`)
	mine := `[...document.querySelectorAll('[data-testid=message].mentions-me')].find(m => m.textContent.includes('can you review the plan?'))`
	bob.wait("the highlighted mention", mine+`?.querySelector('[data-testid=mention-me]')?.textContent === '@bob'`)
	bob.wait("the entry's message highlighted", fmt.Sprintf(`!!document.querySelector('[data-testid=message-list] .msg.highlight.mentions-me[data-id="%s"]')`, hitID))
	bob.wait("the badge cleared", `!`+general+`?.querySelector('[data-testid=mention-badge]') && !document.querySelector('[data-testid=mentions-total]')`)

	// Bob answers with Tab to pick; Alice sees her mention live.
	bob.typeText(tid("composer"), "@al")
	bob.wait("alice offered", `document.querySelector('[data-testid=mention-option]')?.dataset.username === 'alice'`)
	bob.press("Tab")
	bob.wait("@alice inserted", `document.querySelector('[data-testid=composer]').value === '@alice '`)
	bob.typeText(tid("composer"), "sure, on it")
	bob.do(pressEnter)
	alice.wait("her mention, highlighted", `[...document.querySelectorAll('[data-testid=message].mentions-me')].some(m => m.textContent.includes('sure, on it') && m.querySelector('[data-testid=mention-me]')?.textContent === '@alice')`)
	if eval[bool](alice, `[...document.querySelectorAll('[data-testid=message]')].find(m => m.textContent.includes('can you review'))?.classList.contains('mentions-me')`) {
		t.Error("Alice's own message mentioning Bob is highlighted for her")
	}

	// A group of three from the new-message dialog, by keyboard.
	alice.click("new-dm")
	pick := func(name string) {
		alice.setValue(tid("dm-picker-input"), name)
		alice.wait(name+" in the picker", fmt.Sprintf(`document.querySelector('[data-testid=dm-picker-option]')?.dataset.username === %q`, name))
		alice.press("ArrowDown")
		alice.press("Enter")
		alice.wait(name+" as a chip", fmt.Sprintf(`!!document.querySelector('[data-testid=dm-chip][data-username=%q]')`, name))
	}
	pick("bob")
	pick("carol")
	if note := eval[string](alice, `document.querySelector('[data-testid=dm-note]').textContent`); !strings.Contains(note, "group of 3") {
		t.Errorf("the dialog's note says %q", note)
	}
	alice.press("Enter") // the search box is empty: Enter starts the conversation
	alice.wait("the group", jsRoomTitle+` === 'bob and carol' && !!document.querySelector('[data-testid=composer]')`)
	if eval[bool](alice, `!!document.querySelector('[data-testid=invite]')`) {
		t.Error("a group offers Invite people")
	}
	alice.send("Hello both of you")
	for _, p := range []struct {
		tab  *tab
		name string
	}{{bob, "alice and carol"}, {carol, "alice and bob"}} {
		p.tab.wait("the group in the sidebar", fmt.Sprintf(`!!document.querySelector('[data-testid=dms] [data-testid=room-item][data-kind="group"][data-room-name=%q] [data-testid=group-avatar]')`, p.name))
		p.tab.openRoom(p.name)
		p.tab.wait("the group's message", hasBody("Hello both of you"))
	}
	carol.send("Hi @bob and alice")
	alice.wait("Carol's answer", hasBody("Hi @bob and alice"))
	bob.wait("Carol's answer, mentioning bob", `[...document.querySelectorAll('[data-testid=message].mentions-me')].some(m => m.textContent.includes('and alice'))`)
	alice.screenshot("group-dm")

	// On a phone the list fits the screen above the composer.
	alice.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	alice.typeText(tid("composer"), "@c")
	alice.wait("the list on a phone", `(() => { const p = document.querySelector('[data-testid=mention-popup]'); if (p.hidden) return false;
		const r = p.getBoundingClientRect(), c = document.querySelector('[data-testid=composer]').getBoundingClientRect();
		return r.left >= 0 && r.right <= innerWidth && r.top >= 0 && r.bottom <= c.top && document.querySelector('[data-testid=mention-option]')?.dataset.username === 'carol'; })()`)
	alice.press("Escape")
	alice.wait("the list closed", `document.querySelector('[data-testid=mention-popup]').hidden`)
	alice.do(chromedp.EmulateViewport(1280, 800))

	if os.Getenv("PARLEY_UPDATE_SCREENSHOTS") != "" {
		copyScreenshotFiles(t, "mentions", "group-dm")
	}
}
