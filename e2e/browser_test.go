package e2e

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// The browser tests drive the real SPA in headless Chromium against the
// whole stack: two users in two browser contexts (separate storage), one
// browser process. Waits poll the page with deadlines; nothing sleeps.

const (
	stepTimeout = 20 * time.Second
	waitTimeout = 15 * time.Second
	password    = "correct-horse-battery"
	xssPayload  = `<img src=x onerror=alert(1)>`
)

// screenshotDir is test-output/screenshots at the repository root.
var screenshotDir = filepath.Join("..", "test-output", "screenshots")

// chromiumPath finds Chromium, skipping the test when it is missing
// (failing when CI is set: CI must run the browser tests).
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROME_PATH"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "Chromium not found (looked for chromium, chromium-browser, google-chrome; set CHROME_PATH): browser tests need it"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

type browser struct {
	t   *testing.T
	ctx context.Context
}

// startBrowser starts one headless Chromium for the test.
func startBrowser(t *testing.T) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		// Both users' pages must keep running timers and animation frames.
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.Flag("force-color-profile", "srgb"),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return &browser{t: t, ctx: ctx}
}

// tab is one user's page in its own browser context (own localStorage).
type tab struct {
	t       *testing.T
	name    string
	ctx     context.Context
	base    string
	dialogs atomic.Int32
	mu      sync.Mutex
	console []string // exceptions and CSP violations
}

func (b *browser) newTab(name, base string) *tab {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	b.t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		b.t.Fatalf("%s: open tab: %v", name, err)
	}
	p := &tab{t: b.t, name: name, ctx: ctx, base: base}
	// Any alert/confirm/prompt is a failure (the XSS payload must not run);
	// dismiss it so the page does not hang.
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			p.dialogs.Add(1)
			p.t.Logf("%s: JavaScript dialog opened: %q", name, ev.Message)
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			text := m.String()
			if m.IsException() || strings.Contains(text, "Content Security Policy") || strings.Contains(text, "Content-Security-Policy") {
				p.mu.Lock()
				p.console = append(p.console, text)
				p.mu.Unlock()
			}
		}
	}()
	p.do(chromedp.EmulateViewport(1280, 800))
	return p
}

// fail saves a screenshot of the page and stops the test.
func (p *tab) fail(format string, args ...any) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	if buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err == nil {
		_ = os.MkdirAll(screenshotDir, 0o755)
		name := filepath.Join(screenshotDir, "FAILED-"+p.name+".png")
		_ = os.WriteFile(name, buf, 0o644)
		p.t.Logf("%s: screenshot of the failure: %s", p.name, name)
	}
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	p.t.Fatalf("%s (at %s): %s", p.name, loc, fmt.Sprintf(format, args...))
}

func (p *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.fail("%v", err)
	}
}

// contextLost reports errors from a page that navigated under a call: the
// script did not run, so the call can be repeated in the new document.
func contextLost(err error) bool {
	s := err.Error()
	return strings.Contains(s, "Cannot find context with specified id") || strings.Contains(s, "Execution context was destroyed") ||
		strings.Contains(s, "Inspected target navigated or closed")
}

// eval runs JavaScript in the page (awaiting a returned promise).
func eval[T any](p *tab, js string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	for {
		v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
		if err == nil {
			return v
		}
		if !contextLost(err) || ctx.Err() != nil {
			p.fail("eval %s: %v", js, err)
		}
	}
}

// wait polls a JavaScript expression until it is truthy.
func (p *tab) wait(what, js string) {
	p.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		ctx, cancel := context.WithDeadline(p.ctx, deadline.Add(5*time.Second))
		_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](js,
			chromedp.WithPollingInterval(40*time.Millisecond), chromedp.WithPollingTimeout(time.Until(deadline))))
		cancel()
		if err == nil {
			return
		}
		if !contextLost(err) || time.Now().After(deadline) {
			p.fail("waiting for %s: %v", what, err)
		}
	}
}

func (p *tab) open(path string) {
	p.t.Helper()
	p.do(chromedp.Navigate(p.base + path))
}

// click clicks a visible element. It is found and clicked in one script,
// because parts of the app re-render (the sidebar, on every room update)
// and a node found by one protocol call can be gone by the next.
func (p *tab) click(testid string) {
	p.t.Helper()
	sel := tid(testid)
	p.wait(testid+" to show", fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && e.getClientRects().length > 0 && !e.disabled; })()`, sel))
	eval[chromedp.Void](p, fmt.Sprintf(`document.querySelector(%q).click()`, sel))
}

// jsClick clicks elements that only show on hover (message actions).
func (p *tab) jsClick(selector string) {
	p.t.Helper()
	p.wait(selector, fmt.Sprintf(`!!document.querySelector(%q)`, selector))
	eval[chromedp.Void](p, fmt.Sprintf(`document.querySelector(%q).click()`, selector))
}

// setValue sets a form field's value as a script would, with the input and
// change events the app listens to.
func (p *tab) setValue(selector, value string) {
	p.t.Helper()
	p.wait(selector, fmt.Sprintf(`!!document.querySelector(%q)`, selector))
	eval[chromedp.Void](p, fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.value = %q;
		e.dispatchEvent(new Event('input', { bubbles: true })); e.dispatchEvent(new Event('change', { bubbles: true })); })()`, selector, value))
}

func (p *tab) typeInto(testid, text string) {
	p.t.Helper()
	p.do(chromedp.SendKeys(chromedp.CSS(tid(testid)), text, chromedp.NodeVisible))
}

// pressEnter sends Enter as a key press without the "char" event that
// SendKeys adds for "\n": the composer handles Enter on keydown, and the
// extra char event would type a newline into the emptied composer.
var pressEnter = chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
	for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeRawKeyDown, input.DispatchKeyEventTypeKeyUp} {
		_, err := cdp.Call(ctx, t, input.DispatchKeyEvent, input.DispatchKeyEventParams{
			Type: typ, Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13,
		})
		if err != nil {
			return err
		}
	}
	return nil
})

// send types a message into the composer and presses Enter.
func (p *tab) send(text string) {
	p.t.Helper()
	p.typeInto("composer", text)
	p.do(pressEnter)
}

func (p *tab) screenshot(name string) {
	p.t.Helper()
	// Let pending animation frames and fonts settle before capturing.
	eval[chromedp.Void](p, `new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => document.fonts.ready.then(r))))`)
	buf, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.fail("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(screenshotDir, name+".png"), buf, 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// checkClean fails on dialogs, uncaught exceptions and CSP violations.
func (p *tab) checkClean() {
	p.t.Helper()
	if n := p.dialogs.Load(); n > 0 {
		p.t.Errorf("%s: %d JavaScript dialog(s) opened (injected script ran?)", p.name, n)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.console {
		p.t.Errorf("%s: console: %s", p.name, c)
	}
}

func tid(id string) string { return fmt.Sprintf(`[data-testid=%q]`, id) }

// JavaScript snippets shared by the steps.
const (
	jsBodies = `[...document.querySelectorAll('[data-testid=message-list] [data-testid=message] [data-testid=message-body]')]
		.map(b => [...b.childNodes].filter(n => !(n.classList && n.classList.contains('edited'))).map(n => n.textContent).join(''))`
	jsRoomTitle = `(document.querySelector('[data-testid=room-title]')?.textContent ?? '')`
	jsConnected = `document.querySelector('[data-testid=conn-state]')?.dataset.state === 'connected'`
)

func hasBody(text string) string {
	return fmt.Sprintf(`(%s).includes(%q)`, jsBodies, text)
}

func (p *tab) register(username string) {
	p.t.Helper()
	p.open("/register")
	p.wait("register form", `!!document.querySelector('[data-testid=register-username]')`)
	p.typeInto("register-username", username)
	p.typeInto("register-password", password)
	p.click("register-submit")
	p.wait("the General room after sign-up", jsRoomTitle+` === 'General'`)
	p.wait("the live connection", jsConnected)
}

func (p *tab) login(username, pw string) {
	p.t.Helper()
	p.open("/login")
	p.wait("login form", `!!document.querySelector('[data-testid=login-username]')`)
	p.typeInto("login-username", username)
	p.typeInto("login-password", pw)
	p.click("login-submit")
	p.wait("the app after login", `!!document.querySelector('[data-testid=app-shell]')`)
}

// openRoom clicks a room in the sidebar and waits for it.
func (p *tab) openRoom(name string) {
	p.t.Helper()
	p.jsClick(fmt.Sprintf(`[data-testid=room-item][data-room-name=%q]`, name))
	p.wait("room "+name, fmt.Sprintf(`%s === %q && !document.querySelector('.timeline-loading')`, jsRoomTitle, name))
}

func avatarPNG(t *testing.T) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for y := 0; y < 64; y++ {
		for x := 0; x < 64; x++ {
			img.Set(x, y, color.RGBA{uint8(90 + x), uint8(80 + y), 214, 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "avatar.png")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestBrowserChat(t *testing.T) {
	chromiumPath(t) // skip before starting anything when there is no browser
	s := startStack(t)
	b := startBrowser(t)
	alice := b.newTab("alice", s.FrontendURL)
	bob := b.newTab("bob", s.FrontendURL)
	defer alice.checkClean()
	defer bob.checkClean()

	// Sign-up and the login screen.
	alice.open("/login")
	alice.wait("login form", `!!document.querySelector('[data-testid=login-submit]')`)
	alice.screenshot("login")
	alice.register("alice")
	bob.register("bob")

	// Alice creates a public room; Bob finds it and joins.
	alice.click("new-room")
	alice.wait("create dialog", `!!document.querySelector('[data-testid=create-room-name]')`)
	alice.typeInto("create-room-name", "design-review")
	alice.typeInto("create-room-description", "Critique, mockups and decisions")
	alice.click("create-room-submit")
	alice.wait("the new room", jsRoomTitle+` === 'design-review'`)
	bob.click("browse-rooms")
	bob.wait("the room in the directory", `!!document.querySelector('[data-testid=browse-room][data-room-name="design-review"] [data-testid=browse-join]')`)
	bob.jsClick(`[data-testid=browse-room][data-room-name="design-review"] [data-testid=browse-join]`)
	bob.wait("the joined room", jsRoomTitle+` === 'design-review' && !!document.querySelector('[data-testid=composer]')`)
	alice.wait("Bob in the member list", `!!document.querySelector('[data-testid=member-item][data-username="bob"]')`)

	// Messages flow both ways, live.
	alice.send("Hello from Alice! The mockups are at https://example.com/mockups?v=2 — thoughts?")
	bob.wait("Alice's message", hasBody("Hello from Alice! The mockups are at https://example.com/mockups?v=2 — thoughts?"))
	if href := eval[string](bob, `document.querySelector('[data-testid=message-body] a')?.getAttribute('href') ?? ''`); href != "https://example.com/mockups?v=2" {
		t.Errorf("link href = %q", href)
	}
	if rel := eval[string](bob, `document.querySelector('[data-testid=message-body] a')?.rel ?? ''`); !strings.Contains(rel, "noopener") || !strings.Contains(rel, "noreferrer") {
		t.Errorf("link rel = %q", rel)
	}

	// Typing shows on the other side.
	bob.typeInto("composer", "Looks")
	alice.wait("Bob typing", `(document.querySelector('[data-testid=typing]')?.textContent ?? '').includes('bob is typing')`)
	bob.send(" good to me")
	alice.wait("Bob's reply", hasBody("Looks good to me"))
	alice.wait("typing to end with the message", `!(document.querySelector('[data-testid=typing]')?.textContent ?? '').includes('typing')`)

	// A reaction and an edit appear on the other side.
	bobMsg := `[...document.querySelectorAll('[data-testid=message]')].find(m => m.textContent.includes('Looks good to me'))`
	alice.jsClick(`[data-testid=message][data-author="bob"] [data-testid=react-button]`)
	alice.jsClick(`[data-testid=emoji-option][data-emoji="👍"]`)
	bob.wait("the reaction", bobMsg+`?.querySelector('[data-testid=reaction-chip][data-emoji="👍"][data-count="1"]')`)
	bob.jsClick(`[data-testid=message][data-author="bob"] [data-testid=edit-message]`)
	bob.wait("the edit box", `!!document.querySelector('[data-testid=edit-input]')`)
	bob.setValue(tid("edit-input"), "Looks good to me, ship it")
	bob.click("edit-save")
	alice.wait("the edit", hasBody("Looks good to me, ship it")+` && !!document.querySelector('[data-testid=message-edited]')`)
	alice.wait("the reaction to survive the edit", `!!document.querySelector('[data-testid=message][data-author="bob"] [data-testid=reaction-chip]')`)

	// User text is text: the XSS payload shows verbatim and runs nothing.
	alice.send(xssPayload)
	bob.wait("the payload as text", hasBody(xssPayload))
	if n := eval[int](bob, `document.querySelectorAll('[data-testid=message-list] img:not(.avatar img)').length`); n != 0 {
		t.Errorf("the payload became %d <img> element(s)", n)
	}

	// A reload keeps the session (refresh token) and the history.
	bob.do(chromedp.Reload())
	bob.wait("the room after reload", jsRoomTitle+` === 'design-review' && `+hasBody(xssPayload))
	bob.wait("the connection after reload", jsConnected)
	if n := eval[int](bob, `document.querySelectorAll('[data-testid=message-list] img:not(.avatar img)').length`); n != 0 {
		t.Errorf("after reload the payload became %d <img> element(s)", n)
	}

	// A private room is invisible to a non-member.
	alice.click("new-room")
	alice.wait("create dialog", `!!document.querySelector('[data-testid=create-room-name]')`)
	alice.typeInto("create-room-name", "secret-plans")
	alice.click("create-room-private")
	alice.click("create-room-submit")
	alice.wait("the private room", jsRoomTitle+` === 'secret-plans'`)
	alice.send("Only for Alice's eyes")
	alice.wait("the private message", hasBody("Only for Alice's eyes"))
	secretPath := eval[string](alice, `location.pathname`)
	bob.open("/browse")
	bob.wait("the directory", `document.querySelectorAll('[data-testid=browse-room]').length >= 2`)
	if eval[bool](bob, `[...document.querySelectorAll('[data-testid=room-item], [data-testid=browse-room]')].some(e => e.textContent.includes('secret-plans'))`) {
		t.Error("Bob can see the private room in his lists")
	}
	bob.open(secretPath)
	bob.wait("the not-found state", `!!document.querySelector('[data-testid=room-missing]')`)
	if eval[bool](bob, `document.body.textContent.includes("Only for Alice's eyes")`) {
		t.Error("the private message leaked to Bob")
	}

	// Unread badges: Bob is in design-review; Alice writes in General.
	bob.open("/")
	bob.openRoom("design-review")
	alice.openRoom("General")
	alice.send("General announcement: standup moved to 10:30")
	bob.wait("an unread badge on General", `document.querySelector('[data-testid=room-item][data-room-name="General"] [data-testid=unread-badge]')?.textContent === '1'`)
	bob.openRoom("General")
	bob.wait("the badge to clear", `!document.querySelector('[data-testid=room-item][data-room-name="General"] [data-testid=unread-badge]')`)

	// An account made through the API alone (never signed in to the app)
	// is in Alice's New DM and Invite pickers at once.
	(&api{t: t, base: s.Gateway.URL}).must(201, "POST", "/api/auth/register", map[string]string{"username": "carol", "password": password}, nil)
	alice.click("new-dm")
	alice.setValue(tid("dm-picker-input"), "car")
	alice.wait("carol in New DM", `!!document.querySelector('[data-testid=dm-picker-option][data-username="carol"]')`)
	eval[chromedp.Void](alice, `document.querySelector('dialog[open]').close()`)
	alice.openRoom("design-review")
	alice.jsClick(tid("room-menu"))
	alice.jsClick(tid("invite-people"))
	alice.setValue(tid("invite-picker-input"), "car")
	alice.wait("carol in Invite", `!!document.querySelector('[data-testid=invite-picker-option][data-username="carol"]')`)
	alice.jsClick(`[data-testid=invite-picker-option][data-username="carol"]`)
	alice.wait("carol added", `[...document.querySelectorAll('[data-testid=toast]')].some(t => t.textContent.includes('carol was added'))`)
	// The emptied picker ends with Done, the next stop for Tab after the
	// search box; Enter on it closes the dialog and the focus goes back to
	// the menu's button.
	alice.wait("carol out of the picker", `!document.querySelector('[data-testid=invite-picker-option][data-username="carol"]')`)
	alice.focusOn(tid("invite-picker-input"))
	alice.press("Tab")
	alice.wait("the focus on Done", `document.activeElement?.dataset.testid === 'invite-done' && document.activeElement.textContent === 'Done'`)
	alice.press("Enter")
	alice.wait("the invite dialog closed by Done", `!document.querySelector('dialog[open]') && !!document.activeElement?.matches('[data-testid=room-menu]')`)
	alice.wait("carol among the members", `!!document.querySelector('[data-testid=member-item][data-username="carol"]') || document.querySelector('[data-testid=member-panel]').hidden`)

	// A direct message from the member list.
	bob.openRoom("design-review")
	bob.wait("the member list", `!!document.querySelector('[data-testid=member-item][data-username="alice"]')`)
	if !eval[bool](bob, `!document.querySelector('[data-testid=member-panel]').hidden`) {
		bob.click("members-toggle")
	}
	bob.jsClick(`[data-testid=member-item][data-username="alice"]`)
	bob.jsClick(`[data-testid=message-user]`)
	bob.wait("the DM", jsRoomTitle+` === 'alice'`)
	dmPath := eval[string](bob, `location.pathname`)
	bob.send("psst — lunch at noon?")
	alice.wait("the DM in Alice's sidebar", `!!document.querySelector('[data-testid=room-item][data-kind="dm"][data-room-name="bob"] [data-testid=unread-badge]')`)

	// Search finds a message and jumps to it.
	alice.typeInto("search-input", "mockups\n") // the char event submits the form
	alice.wait("a search hit", `[...document.querySelectorAll('[data-testid=search-hit]')].some(h => h.textContent.includes('mockups'))`)
	alice.jsClick(`[data-testid=search-hit]`)
	alice.wait("the highlighted message", jsRoomTitle+` === 'design-review' && !!document.querySelector('.msg.highlight')`)

	// Back in the room for a conversation worth a screenshot.
	for _, p := range []*tab{alice, bob} {
		p.open("/")
		p.openRoom("design-review")
		p.wait("the connection", jsConnected)
	}
	bob.send("One nit: the sidebar spacing feels tight on phones.")
	alice.wait("Bob's nit", hasBody("One nit: the sidebar spacing feels tight on phones."))
	alice.send("Good catch! I'll bump it to 12px and post a new build.")
	bob.wait("Alice's answer", hasBody("Good catch! I'll bump it to 12px and post a new build."))
	alice.screenshot("chat")

	// Restart chat-service while Alice is sending: both pages reconnect and
	// every message arrives exactly once on both sides.
	for _, p := range []*tab{alice, bob} {
		eval[chromedp.Void](p, `window.__conn = []; new MutationObserver(() => window.__conn.push(document.documentElement.dataset.conn)).observe(document.documentElement, { attributes: true, attributeFilter: ['data-conn'] })`)
	}
	const bursts = 8
	eval[chromedp.Void](alice, fmt.Sprintf(`(() => {
		let i = 0;
		const tick = () => {
			const ta = document.querySelector('[data-testid=composer]');
			ta.value = 'burst ' + (++i);
			ta.dispatchEvent(new Event('input', { bubbles: true }));
			ta.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }));
			if (i < %d) setTimeout(tick, 120);
		};
		tick();
	})()`, bursts))
	s.restartChat(t)
	for _, p := range []*tab{alice, bob} {
		p.wait("a reconnect after the restart", `window.__conn.includes('reconnecting') && `+jsConnected)
	}
	bob.send("back online")
	want := []string{"back online"}
	for i := 1; i <= bursts; i++ {
		want = append(want, fmt.Sprintf("burst %d", i))
	}
	for _, p := range []*tab{alice, bob} {
		var conds []string
		for _, w := range want {
			conds = append(conds, hasBody(w))
		}
		p.wait("every message after the restart", strings.Join(conds, " && "))
		bodies := eval[[]string](p, jsBodies)
		for _, w := range want {
			if n := countOf(bodies, w); n != 1 {
				t.Errorf("%s: %q appears %d times after the restart", p.name, w, n)
			}
		}
		if dup := firstDuplicate(bodies); dup != "" {
			t.Errorf("%s: %q is shown twice", p.name, dup)
		}
		if n := eval[int](p, `document.querySelectorAll('[data-testid=message-pending], [data-testid=message-failed]').length`); n != 0 {
			t.Errorf("%s: %d message(s) still pending or failed", p.name, n)
		}
	}
	// Bob deletes a message: both sides keep a tombstone in its place.
	eval[chromedp.Void](bob, `[...document.querySelectorAll('[data-testid=message]')].find(m => m.textContent.includes('back online')).querySelector('[data-testid=delete-message]').click()`)
	bob.click("confirm-ok")
	for _, p := range []*tab{alice, bob} {
		p.wait("the tombstone", `!`+hasBody("back online")+` && !!document.querySelector('[data-testid=message-deleted]')`)
	}
	aliceBodies := eval[[]string](alice, jsBodies)
	bobBodies := eval[[]string](bob, jsBodies)
	if !slices.Equal(aliceBodies, bobBodies) {
		t.Errorf("the two pages disagree:\nalice %q\nbob   %q", aliceBodies, bobBodies)
	}

	// Phone-sized: the room list becomes a drawer.
	bob.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateTouch))
	bob.open("/") // back to the last room, laid out for the phone from the start
	bob.wait("the phone layout", jsRoomTitle+` === 'design-review' && getComputedStyle(document.querySelector('[data-testid=drawer-toggle]')).display !== 'none'`)
	if eval[bool](bob, `!document.querySelector('[data-testid=member-panel]').hidden`) {
		t.Error("the members panel covers the timeline on a phone")
	}
	bob.screenshot("chat-phone")
	bob.click("drawer-toggle")
	bob.wait("the open drawer", `document.querySelector('[data-testid=app-shell]').classList.contains('drawer-open') && document.querySelector('[data-testid=sidebar]').getBoundingClientRect().left === 0`)
	bob.screenshot("rooms-drawer-phone")
	bob.jsClick(`[data-testid=room-item][data-room-name="General"]`)
	bob.wait("the drawer to close on navigation", jsRoomTitle+` === 'General' && !document.querySelector('[data-testid=app-shell]').classList.contains('drawer-open')`)

	// Profile: display name, status, bio and an avatar.
	alice.open("/profile")
	alice.wait("the profile form", `!!document.querySelector('[data-testid=profile-display-name]')`)
	alice.setValue(tid("profile-display-name"), "")
	alice.typeInto("profile-display-name", "Alice Liddell")
	alice.typeInto("profile-status", "Reviewing mockups")
	alice.typeInto("profile-bio", "Product designer. Ask me about typography.")
	alice.click("profile-save")
	alice.wait("the saved profile", `document.querySelector('[data-testid=profile-name]')?.textContent === 'Alice Liddell'`)
	alice.do(chromedp.SetUploadFiles(chromedp.CSS(tid("avatar-input")), []string{avatarPNG(t)}))
	alice.wait("the uploaded avatar", `[...document.querySelectorAll('.avatar-xl img')].some(i => i.complete && i.naturalWidth === 64)`)
	alice.screenshot("profile")

	// A service goes down: a banner names it, and goes once it is back.
	if err := s.Chat.Stop(); err != nil {
		t.Fatalf("stop chat-service: %v", err)
	}
	alice.click("browse-rooms") // lists rooms through the gateway
	alice.wait("the service banner", `(() => { const b = document.querySelector('[data-testid=service-banner]'); return !!b && !b.hidden && b.textContent.includes('chat'); })()`)
	alice.wait("the connection state", `['reconnecting', 'offline'].includes(document.querySelector('[data-testid=conn-state]')?.dataset.state)`)
	alice.screenshot("service-down")
	s.restartChat(t)
	alice.wait("the banner to clear", `document.querySelector('[data-testid=service-banner]').hidden && `+jsConnected)

	// Settings: the theme is stored server-side and follows a reload.
	alice.open("/settings")
	alice.wait("the settings", `!!document.querySelector('[data-testid=theme-dark]')`)
	alice.jsClick(tid("theme-dark"))
	alice.wait("the dark theme", `document.documentElement.dataset.theme === 'dark'`)
	alice.open("/")
	alice.openRoom("design-review")
	alice.wait("the dark theme after reload", `document.documentElement.dataset.theme === 'dark'`)
	alice.screenshot("chat-dark")

	// Non-admins get no admin page.
	bob.do(chromedp.EmulateViewport(1280, 800))

	// Alice's display name, not her username, wherever the DM's header
	// shows it: the composer's placeholder and label, and the member menu.
	bob.open(dmPath)
	bob.wait("the DM under Alice's display name", jsRoomTitle+` === 'Alice Liddell' && document.querySelector('[data-testid=composer]')?.placeholder === 'Message Alice Liddell' && document.querySelector('[data-testid=composer]').getAttribute('aria-label') === 'Message Alice Liddell'`)
	bob.openRoom("design-review")
	if !eval[bool](bob, `!document.querySelector('[data-testid=member-panel]').hidden`) {
		bob.click("members-toggle")
	}
	bob.jsClick(`[data-testid=member-item][data-username="alice"]`)
	bob.wait("the member menu with Alice's display name", `document.querySelector('[data-testid=message-user]')?.textContent.trim() === 'Message Alice Liddell'`)
	bob.press("Escape")
	bob.wait("the member menu closed", `!document.querySelector('[data-testid=message-user]')`)

	bob.open("/admin")
	bob.wait("the refusal", `!!document.querySelector('[data-testid=admin-forbidden]')`)

	// The admin lists users and promotes Alice.
	admin := b.newTab("admin", s.FrontendURL)
	defer admin.checkClean()
	admin.login("admin", adminPassword)
	admin.open("/admin")
	admin.wait("the user table", `!!document.querySelector('[data-testid=admin-user][data-username="alice"]') && !!document.querySelector('[data-testid=admin-user][data-username="bob"]')`)
	admin.setValue(`[data-testid=admin-user][data-username="alice"] [data-testid=admin-role]`, "admin")
	admin.wait("Alice promoted", `document.querySelector('[data-testid=admin-user][data-username="alice"] [data-testid=admin-role]')?.value === 'admin' && [...document.querySelectorAll('[data-testid=toast]')].some(t => t.textContent.includes('admin'))`)
	admin.screenshot("admin-users") // docs' admin.png is TestBrowserAdminRoomsAndUsage's

	// The admin signs Bob out everywhere: Bob's open page loses its socket
	// (4401), its renewal is refused, and it lands on the sign-in page
	// saying why, within seconds.
	admin.jsClick(`[data-testid=admin-user][data-username="bob"] [data-testid=admin-signout]`)
	admin.wait("the confirmation", `!!document.querySelector('dialog[open] [data-testid=confirm-ok]')`)
	admin.jsClick(`dialog[open] [data-testid=confirm-ok]`)
	admin.wait("the sign-out toast", `[...document.querySelectorAll('[data-testid=toast]')].some(t => t.textContent.includes('bob was signed out'))`)
	bob.wait("Bob's page signed out with the reason", `!!document.querySelector('[data-testid=login-username]') && document.body.textContent.includes('You were signed out')`)
	bob.screenshot("signed-out")

	// Alice signs herself out everywhere from her settings.
	alice.open("/settings")
	alice.wait("the account card", `!!document.querySelector('[data-testid=settings-logout-all]')`)
	alice.jsClick(tid("settings-logout-all"))
	alice.wait("the confirmation", `!!document.querySelector('dialog[open] [data-testid=confirm-ok]')`)
	alice.jsClick(`dialog[open] [data-testid=confirm-ok]`)
	alice.wait("the sign-in page", `!!document.querySelector('[data-testid=login-username]')`)

	if os.Getenv("PARLEY_UPDATE_SCREENSHOTS") != "" {
		copyScreenshots(t)
	}
}

func countOf(list []string, s string) int {
	n := 0
	for _, v := range list {
		if v == s {
			n++
		}
	}
	return n
}

func firstDuplicate(list []string) string {
	seen := map[string]bool{}
	for _, v := range list {
		if seen[v] {
			return v
		}
		seen[v] = true
	}
	return ""
}

// copyScreenshots refreshes docs/screenshots from this run.
func copyScreenshots(t *testing.T) {
	t.Helper()
	dst := filepath.Join("..", "docs", "screenshots")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"login", "chat", "chat-dark", "chat-phone", "rooms-drawer-phone", "profile", "service-down", "signed-out"} {
		in, err := os.Open(filepath.Join(screenshotDir, name+".png"))
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(filepath.Join(dst, name+".png"))
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
