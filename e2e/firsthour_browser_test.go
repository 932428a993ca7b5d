package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	auth "github.com/parleychat/parley/auth-service/app"
	"github.com/parleychat/parley/platform/testkit"
)

// The first hour of a newcomer (issue 20): a room someone adds you to
// stands out, a chat-service outage shows one banner with one Retry,
// presence is unknown (not "everyone online") while the socket is away,
// the newest message stays above the composer as the banner comes and
// goes, on a desktop and on a phone.
func TestBrowserFirstHour(t *testing.T) {
	chromiumPath(t)
	s := startStack(t)
	b := startBrowser(t)
	alice := b.newTab("alice", s.FrontendURL)
	bob := b.newTab("bob", s.FrontendURL)
	defer alice.checkClean()
	defer bob.checkClean()
	alice.register("alice")
	bob.register("bob")

	// Alice creates a private room and adds Bob: it arrives in Bob's
	// sidebar live, bold with a "New" badge, and is announced.
	alice.click("new-room")
	alice.wait("create dialog", `!!document.querySelector('[data-testid=create-room-name]')`)
	alice.typeInto("create-room-name", "design")
	alice.jsClick(tid("create-room-private"))
	alice.click("create-room-submit")
	alice.wait("the new room", jsRoomTitle+` === 'design'`)
	alice.jsClick(tid("room-menu"))
	alice.jsClick(tid("invite-people"))
	alice.setValue(tid("invite-picker-input"), "bob")
	alice.wait("bob in Invite", `!!document.querySelector('[data-testid=invite-picker-option][data-username="bob"]')`)
	alice.jsClick(`[data-testid=invite-picker-option][data-username="bob"]`)
	alice.wait("bob added", `[...document.querySelectorAll('[data-testid=toast]')].some(t => t.textContent.includes('bob was added'))`)
	alice.jsClick(tid("invite-done"))

	newItem := `document.querySelector('[data-testid=room-item][data-room-name="design"]')`
	bob.wait("the new room, highlighted", newItem+`?.classList.contains('is-new') && `+newItem+`.querySelector('[data-testid=new-badge]')?.textContent === 'New' && getComputedStyle(`+newItem+`.querySelector('.room-name')).fontWeight >= 700`)
	if label := eval[string](bob, newItem+`.getAttribute('aria-label')`); !strings.Contains(label, "new") {
		t.Errorf("the new room's label does not say it is new: %q", label)
	}
	bob.wait("the announcement naming who added him", `(document.querySelector('[data-testid=announcer]')?.textContent ?? '').includes('alice added you to #design')`)
	if eval[bool](alice, `!!document.querySelector('[data-testid=room-item][data-room-name="design"] [data-testid=new-badge]')`) {
		t.Error("the room's creator sees it as new")
	}
	bob.openRoom("design")
	bob.wait("the badge to go once opened", `!`+newItem+`.classList.contains('is-new') && !`+newItem+`.querySelector('[data-testid=new-badge]')`)

	// Enough tall messages that the timeline scrolls.
	alice.focusOn(tid("composer"))
	for i := 1; i <= 8; i++ {
		alice.setValue(tid("composer"), fmt.Sprintf("Mockup round %d\nheader: ok\nsidebar: ok\ncomposer: ok\nfooter: ok\nverdict: ship", i))
		alice.do(pressEnter)
	}
	bob.wait("the last message", hasBodyPart("Mockup round 8"))
	alice.wait("the last message", hasBodyPart("Mockup round 8"))
	bob.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateTouch))
	bob.open("/")
	bob.wait("the phone layout", jsRoomTitle+` === 'design' && `+hasBodyPart("Mockup round 8")+` && getComputedStyle(document.querySelector('[data-testid=drawer-toggle]')).display !== 'none'`)
	for _, p := range []*tab{alice, bob} {
		p.wait("a scrolling timeline", `document.querySelector('.scroller').scrollHeight > document.querySelector('.scroller').clientHeight + 200`)
		p.wait("the newest message in view", jsNewestVisible)
		p.wait("the live connection", jsConnected)
	}
	if !eval[bool](alice, `!document.querySelector('[data-testid=member-panel]').hidden`) {
		alice.click("members-toggle")
	}
	alice.wait("Bob online", `document.querySelector('[data-testid=member-item][data-username="bob"]')?.dataset.online === '1'`)

	// chat-service goes down.
	if err := s.Chat.Stop(); err != nil {
		t.Fatalf("stop chat-service: %v", err)
	}
	for _, p := range []*tab{alice, bob} {
		p.wait("the connection banner, shown", jsBannerShown)
		p.wait("the newest message still above the composer", jsNewestVisible)
		checkOneBanner(t, p)
	}
	// Presence: unknown, not "online", for everyone, and said so.
	alice.wait("presence unknown", `(() => {
		const bob = document.querySelector('[data-testid=member-item][data-username="bob"]');
		return !!bob && bob.dataset.online === 'unknown' && bob.getAttribute('aria-label').includes('presence unknown while reconnecting')
			&& !document.querySelector('[data-testid=member-item][data-online="1"]')
			&& document.querySelector('[data-testid=member-item] .presence-dot.unknown') !== null
			&& document.documentElement.dataset.presence === 'unknown'
			&& document.querySelector('[data-testid=presence-summary]').textContent.startsWith('Presence unknown');
	})()`)
	if op := eval[float64](alice, `Number(getComputedStyle(document.querySelector('[data-testid=member-item] .presence-dot')).opacity)`); op >= 1 {
		t.Errorf("presence dots are not dimmed while reconnecting (opacity %v)", op)
	}
	if label := eval[string](alice, `document.querySelector('[data-testid=members-toggle]').getAttribute('aria-label')`); !strings.Contains(label, "presence unknown") {
		t.Errorf("members button label while reconnecting: %q", label)
	}

	// A REST call fails too: still one banner, now naming the service.
	alice.click("browse-rooms")
	alice.wait("the banner naming chat", `(() => { const b = document.querySelector('[data-testid=service-banner]'); return !!b && !b.hidden && b.dataset.state === 'service' && b.textContent.includes('chat'); })()`)
	checkOneBanner(t, alice)
	alice.openRoom("design")
	alice.wait("the newest message above the composer under the banner", jsNewestVisible)
	checkOneBanner(t, alice)
	alice.screenshot("service-down")

	// Back: the banner goes, the newest message is still in view, and
	// presence is known again.
	s.restartChat(t)
	for _, p := range []*tab{alice, bob} {
		p.wait("the banner to clear", `document.querySelector('[data-testid=service-banner]').hidden && `+jsConnected)
		p.wait("the newest message in view after the banner", jsNewestVisible)
		p.wait("presence known again", `document.documentElement.dataset.presence === 'known' && !document.querySelector('.presence-dot.unknown')`)
	}
	if !eval[bool](alice, `!document.querySelector('[data-testid=member-panel]').hidden`) {
		alice.click("members-toggle")
	}
	alice.wait("Bob online again", `document.querySelector('[data-testid=member-item][data-username="bob"]')?.dataset.online === '1'`)

	if os.Getenv("PARLEY_UPDATE_SCREENSHOTS") != "" {
		copyFirstHourScreenshots(t, "service-down")
	}
}

// The first admin signs in with the password auth-service generated (read
// from its log) and is asked to change it until they do.
func TestBrowserFirstHourGeneratedPassword(t *testing.T) {
	chromiumPath(t)
	s := startStack(t)
	logs := s.restartAuthGenerated(t, "root")
	password := generatedAdminPassword(t, logs)
	b := startBrowser(t)
	p := b.newTab("root", s.FrontendURL)
	defer p.checkClean()

	p.login("root", password)
	p.wait("the generated-password notice", `(() => { const n = document.querySelector('[data-testid=password-notice]'); return !!n && !n.hidden && n.getAttribute('role') === 'status' && n.textContent.includes('You are using a generated password'); })()`)
	p.screenshot("change-password-prompt")
	// It stays, page after page.
	p.click("browse-rooms")
	p.wait("the notice on another page", `!document.querySelector('[data-testid=password-notice]').hidden`)

	p.click("password-notice-change")
	p.wait("the password form, focused", `location.pathname === '/settings' && document.activeElement?.dataset.testid === 'password-current' && !!document.querySelector('[data-testid=password-generated]')`)
	p.typeInto("password-current", password)
	p.typeInto("password-new", "my-own-password-1")
	p.click("password-save")
	p.wait("the notice to go", `document.querySelector('[data-testid=password-notice]').hidden && !document.querySelector('[data-testid=password-generated]')`)

	// A new sign-in with the chosen password: no notice.
	p.open("/")
	p.wait("the app", `!!document.querySelector('[data-testid=app-shell]')`)
	p.click("account-menu")
	p.jsClick(tid("logout"))
	// Signing out reloads the page on /login: wait for it before typing.
	p.wait("the sign-in page", `location.pathname === '/login' && !!document.querySelector('[data-testid=login-username]')`)
	p.typeInto("login-username", "root")
	p.typeInto("login-password", "my-own-password-1")
	p.click("login-submit")
	p.wait("the app without the notice", `!!document.querySelector('[data-testid=room-item]') && document.querySelector('[data-testid=password-notice]').hidden`)

	if os.Getenv("PARLEY_UPDATE_SCREENSHOTS") != "" {
		copyFirstHourScreenshots(t, "change-password-prompt")
	}
}

// hasBodyPart: some message's body contains text.
func hasBodyPart(text string) string {
	return fmt.Sprintf(`(%s).some(b => b.includes(%q))`, jsBodies, text)
}

// jsBannerShown: the connection banner is up and done appearing (a socket
// blip's banner waits a moment, collapsed, before it shows).
const jsBannerShown = `(() => {
	const b = document.querySelector('[data-testid=service-banner]');
	return !!b && !b.hidden && b.getBoundingClientRect().height > 20 && b.getAnimations().every(a => a.playState === 'finished' || a.effect?.getComputedTiming().iterations === Infinity);
})()`

// jsNewestVisible: the newest message's bottom is inside the scroller,
// above the composer.
const jsNewestVisible = `(() => {
	const sc = document.querySelector('.scroller');
	const msgs = document.querySelectorAll('[data-testid=message-list] [data-testid=message]');
	const last = msgs[msgs.length - 1];
	const composer = document.querySelector('[data-testid=composer]');
	if (!sc || !last || !composer) return false;
	const m = last.getBoundingClientRect(), s = sc.getBoundingClientRect(), c = composer.getBoundingClientRect();
	return m.bottom <= s.bottom + 1 && m.bottom <= c.top + 1 && m.height > 0;
})()`

// checkOneBanner fails unless exactly one banner and one Retry show.
func checkOneBanner(t *testing.T, p *tab) {
	t.Helper()
	got := eval[[]int](p, `(() => {
		const shown = (e) => !e.hidden && e.getClientRects().length > 0;
		const banners = [...document.querySelectorAll('[data-testid=service-banner], .conn-strip, [data-testid=conn-strip]')].filter(shown).length;
		const retries = [...document.querySelectorAll('button')].filter(b => shown(b) && b.textContent.trim() === 'Retry now').length;
		return [banners, retries];
	})()`)
	if len(got) != 2 || got[0] != 1 || got[1] != 1 {
		t.Errorf("%s: %v banners and Retry buttons, want one of each", p.name, got)
	}
}

// logBuffer collects a service's log lines (the service writes from its
// goroutines).
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// restartAuthGenerated restarts auth-service on its port and database
// without ADMIN_PASSWORD and with ADMIN_USERNAME set to a name nobody has,
// as a first start of a fresh install would: it creates that admin with a
// generated password and logs it. The log is captured and returned.
func (s *stack) restartAuthGenerated(t *testing.T, username string) *logBuffer {
	t.Helper()
	if err := s.Auth.Stop(); err != nil {
		t.Fatalf("auth-service stop: %v", err)
	}
	env := copyEnv(s.authEnv)
	delete(env, "ADMIN_PASSWORD")
	env["ADMIN_USERNAME"] = username
	logs := &logBuffer{}
	run := func(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
		return auth.Run(ctx, args, getenv, io.MultiWriter(stdout, logs))
	}
	s.Auth = testkit.Start(t, "auth-service", run, env)
	return logs
}

// generatedAdminPassword reads the password auth-service logged for the
// admin it created.
func generatedAdminPassword(t *testing.T, logs *logBuffer) string {
	t.Helper()
	for _, line := range strings.Split(logs.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil {
			continue
		}
		if p, ok := rec["password"].(string); ok && p != "" {
			return p
		}
	}
	t.Fatalf("auth-service logged no generated password:\n%s", logs)
	return ""
}

// copyFirstHourScreenshots refreshes these screenshots in docs/screenshots.
func copyFirstHourScreenshots(t *testing.T, names ...string) {
	t.Helper()
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join(screenshotDir, name+".png"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("..", "docs", "screenshots", name+".png"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
