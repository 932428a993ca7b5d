package e2e

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserThreads drives threads and message links in the SPA: two
// users thread a conversation live (the reply count and the pane on both
// sides, replies kept out of the timeline, the Threads view and its unread
// count cleared by reading), the thread as a full screen with a back
// button on a phone, and a message link opened from a fresh page load to a
// message 1,500 messages back, highlighted and in view.
func TestBrowserThreads(t *testing.T) {
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

	// ---- a thread, live on both sides ----------------------------------------

	alice.send("Root: shall we ship on Friday?")
	bob.wait("the root on Bob's side", hasBody("Root: shall we ship on Friday?"))
	rootSel := `[data-testid=message-list] [data-testid=message]:has([data-testid=message-body])`
	jsRootOf := func(body string) string {
		return fmt.Sprintf(`[...document.querySelectorAll(%q)].find(m => m.querySelector('[data-testid=message-body]').textContent === %q)`, rootSel, body)
	}
	root := jsRootOf("Root: shall we ship on Friday?")
	rootID := eval[string](bob, root+`.dataset.id`)
	// The action is a button of the message's toolbar (keyboard reachable
	// with the other actions).
	eval[chromedp.Void](bob, root+`.querySelector('[data-testid=reply-in-thread]').click()`)
	bob.wait("the thread pane with the root, its composer focused", `document.querySelector('[data-testid=thread-pane] [data-testid=thread-root] [data-testid=message-body]')?.textContent === 'Root: shall we ship on Friday?' && document.activeElement?.dataset.testid === 'thread-composer'`)
	bob.typeInto("thread-composer", "Reply: Friday works for me")
	bob.do(pressEnter)
	bob.wait("Bob's reply in the pane", `[...document.querySelectorAll('[data-testid=thread-pane] [data-testid=thread-reply]')].some(r => r.textContent.includes('Reply: Friday works for me'))`)

	alice.wait("1 reply under the root on Alice's side", root+`?.querySelector('[data-testid=thread-summary]')?.dataset.count === '1'`)
	if eval[bool](alice, hasBody("Reply: Friday works for me")) {
		t.Errorf("the reply shows in Alice's room timeline")
	}
	alice.wait("the Threads entry counts 1 unread reply", `document.querySelector('[data-testid=threads-unread]')?.hidden === false && document.querySelector('[data-testid=threads-unread]').textContent === '1'`)
	alice.click("threads-link")
	alice.wait("the Threads view with the thread, 1 unread", fmt.Sprintf(`document.querySelector('[data-testid=thread-item][data-root-id="%s"] [data-testid=thread-unread]')?.textContent === '1'`, rootID))
	alice.jsClick(fmt.Sprintf(`[data-testid=thread-item][data-root-id="%s"]`, rootID))
	alice.wait("the thread pane over the room", `document.querySelector('[data-testid=thread-pane] [data-testid=thread-replies]')?.textContent.includes('Reply: Friday works for me')`)
	alice.wait("reading it cleared the count", `document.querySelector('[data-testid=threads-unread]')?.hidden === true`)
	// The server agrees.
	var followed struct {
		Threads []struct {
			Unread int `json:"unread_replies"`
		} `json:"threads"`
	}
	aliceAPI.must(200, "GET", "/api/chat/threads", nil, &followed)
	if len(followed.Threads) != 1 || followed.Threads[0].Unread != 0 {
		t.Errorf("alice's threads after reading: %+v", followed.Threads)
	}

	// Alice answers in the pane; Bob's pane and reply count follow live.
	alice.typeInto("thread-composer", "Reply: great, Friday it is")
	alice.do(pressEnter)
	bob.wait("Alice's reply live in Bob's pane", `[...document.querySelectorAll('[data-testid=thread-pane] [data-testid=thread-reply]')].some(r => r.textContent.includes('Reply: great, Friday it is'))`)
	bob.wait("2 replies under the root on Bob's side, with both repliers' avatars", root+`?.querySelector('[data-testid=thread-summary]')?.dataset.count === '2' && `+root+`.querySelectorAll('.thread-avatars .avatar').length === 2`)
	alice.wait("2 replies on Alice's side", root+`?.querySelector('[data-testid=thread-summary]')?.dataset.count === '2'`)
	if eval[bool](bob, hasBody("Reply: great, Friday it is")) {
		t.Errorf("the reply shows in Bob's room timeline")
	}
	alice.screenshot("thread-pane")

	// The pane's accessibility tree and contrast, both themes.
	a := alice.audit("thread pane")
	a.axTree(axWant{app: true, messages: true})
	a.contrast()
	alice.setDark(true)
	alice.audit("thread pane, dark").contrast()
	alice.setDark(false)
	// Every Tab stop with the pane open (the room's and the pane's) is
	// reached, visible, uncovered and has a focus ring.
	alice.audit("thread pane, keyboard").keyboardWalk(walkOpts{looks: map[string]bool{}})

	// Escape closes the pane.
	alice.focusOn(tid("thread-composer"))
	alice.press("Escape")
	alice.wait("the pane closed", `!document.querySelector('[data-testid=thread-pane]')`)

	// ---- a phone: the thread is a full screen with a back button ----------

	alice.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateTouch))
	eval[chromedp.Void](alice, root+`.querySelector('[data-testid=thread-summary]').click()`)
	alice.wait("the thread over the whole screen", `(() => { const p = document.querySelector('[data-testid=thread-pane]'); if (!p) return false; const r = p.getBoundingClientRect();
		return r.left === 0 && r.top === 0 && r.width === innerWidth && r.height === innerHeight && getComputedStyle(document.querySelector('[data-testid=thread-back]')).display !== 'none'
			&& p.querySelectorAll('[data-testid=thread-reply]').length === 2; })()`)
	alice.click("thread-back")
	alice.wait("back in the room", `!document.querySelector('[data-testid=thread-pane]') && `+jsRoomTitle+` === 'General'`)
	alice.do(chromedp.EmulateViewport(1280, 800))

	// ---- message links ----------------------------------------------------------

	// Copy link: the clipboard, or a toast showing the URL.
	eval[chromedp.Void](alice, root+`.querySelector('[data-testid=copy-link]').click()`)
	alice.wait("the copy toast", fmt.Sprintf(`[...document.querySelectorAll('[data-testid=toast]')].some(t => t.textContent.includes('Link copied') || t.textContent.includes('/rooms/') && t.textContent.includes('?m=%s'))`, rootID))

	// A reply's link opens its thread at it.
	var th struct {
		Messages []message `json:"messages"`
	}
	aliceAPI.must(200, "GET", "/api/chat/messages/"+rootID+"/thread", nil, &th)
	if len(th.Messages) != 2 {
		t.Fatalf("thread has %d replies", len(th.Messages))
	}
	reply := th.Messages[0]
	alice.open(fmt.Sprintf("/rooms/%d?m=%d", reply.RoomID, reply.ID))
	alice.wait("the pane open at the reply, highlighted", fmt.Sprintf(`document.querySelector('[data-testid=thread-pane] [data-testid=thread-reply][data-id="%d"]')?.classList.contains('highlight')`, reply.ID))

	// The pane's composer has the room composer's @mention list: Enter
	// picks, a second Enter sends; Bob's pane shows the reply mentioning him.
	alice.typeText(tid("thread-composer"), "@bo")
	pop := `document.querySelector('[data-testid=thread-pane] [data-testid=mention-popup]')`
	alice.wait("bob offered in the pane", `!`+pop+`.hidden && `+pop+`.querySelector('[data-testid=mention-option]')?.dataset.username === 'bob'
		&& document.querySelector('[data-testid=thread-composer]').getAttribute('aria-activedescendant') === `+pop+`.querySelector('[data-testid=mention-option]').id`)
	alice.press("Enter")
	alice.wait("@bob inserted", `document.querySelector('[data-testid=thread-composer]').value === '@bob ' && `+pop+`.hidden`)
	alice.typeText(tid("thread-composer"), "please confirm")
	alice.press("Enter")
	bob.wait("the reply mentioning bob in his pane", `[...document.querySelectorAll('[data-testid=thread-pane] [data-testid=thread-reply].mentions-me')].some(r => r.textContent.includes('please confirm') && r.querySelector('[data-testid=mention-me]')?.textContent === '@bob')`)

	// Bob edits his reply in the pane (Edit, Enter saves): Alice's pane
	// shows the new text live. Then he deletes it (the confirm dialog).
	bobReply := `[...document.querySelectorAll('[data-testid=thread-pane] [data-testid=thread-reply]')].find(r => r.textContent.includes('Reply: Friday works for me'))`
	if eval[bool](alice, `!!`+bobReply+`.querySelector('[data-testid=edit-message], [data-testid=delete-message]')`) {
		t.Errorf("Alice can edit or delete Bob's reply")
	}
	eval[chromedp.Void](bob, bobReply+`.querySelector('[data-testid=edit-message]').click()`)
	bob.wait("the edit box in the pane, focused", `document.activeElement?.dataset.testid === 'edit-input' && !!document.activeElement.closest('[data-testid=thread-pane]')`)
	bob.typeText(`[data-testid=thread-pane] [data-testid=edit-input]`, " (or Saturday)")
	bob.press("Enter")
	alice.wait("Bob's edit live in Alice's pane", `[...document.querySelectorAll('[data-testid=thread-pane] [data-testid=thread-reply] [data-testid=message-body]')].some(b => b.textContent.startsWith('Reply: Friday works for me (or Saturday)'))`)
	bob.wait("the focus back on the reply's Edit button", `document.activeElement?.dataset.testid === 'edit-message' && !!document.activeElement.closest('[data-testid=thread-pane]')`)
	eval[chromedp.Void](bob, bobReply+`.querySelector('[data-testid=delete-message]').click()`)
	bob.wait("the confirm dialog", `!!document.querySelector('[data-testid=confirm-ok]')`)
	bob.click("confirm-ok")
	alice.wait("Bob's reply deleted live in Alice's pane", `![...document.querySelectorAll('[data-testid=thread-pane] [data-testid=thread-reply]')].some(r => r.textContent.includes('or Saturday')) && !!document.querySelector('[data-testid=thread-pane] [data-testid=thread-reply].deleted')`)

	// A message 1,500 messages back, from a fresh page load.
	var archive room
	aliceAPI.must(201, "POST", "/api/chat/rooms", map[string]string{"name": "archive", "kind": "public"}, &archive)
	bobAPI.must(200, "POST", fmt.Sprintf("/api/chat/rooms/%d/join", archive.ID), nil, nil)
	if err := <-seedHistory(t, aliceAPI, bobAPI, archive.ID, 300); err != nil {
		t.Fatal(err)
	}
	var target message
	aliceAPI.must(201, "POST", fmt.Sprintf("/api/chat/rooms/%d/messages", archive.ID), map[string]string{"body": "The decision we will want to find later"}, &target)
	began := time.Now()
	if err := <-seedHistory(t, aliceAPI, bobAPI, archive.ID, 1500); err != nil {
		t.Fatal(err)
	}
	t.Logf("seeded 1,500 messages in %v", time.Since(began).Round(time.Millisecond))
	fresh := b.newTab("alice-link", s.FrontendURL)
	defer fresh.checkClean()
	fresh.login("alice", password)
	began = time.Now()
	fresh.open(fmt.Sprintf("/rooms/%d?m=%d", archive.ID, target.ID))
	fresh.wait("the linked message highlighted and in view", fmt.Sprintf(`(() => { const m = document.querySelector('[data-testid=message-list] .msg.highlight[data-id="%d"]'); if (!m) return false;
		const r = m.getBoundingClientRect(), s = document.querySelector('.room .scroller').getBoundingClientRect(); return r.top >= s.top && r.bottom <= s.bottom; })()`, target.ID))
	t.Logf("message link 1,500 back: highlighted in %v", time.Since(began).Round(time.Millisecond))
	// Both ways from there: the next messages are below it, and the room
	// still reaches its newest message.
	if !eval[bool](fresh, fmt.Sprintf(`!!document.querySelector('[data-testid=message-list] .msg[data-seq="%d"]')`, target.Seq+1)) {
		t.Errorf("the message after the linked one is not rendered")
	}
	// Only the page around it was fetched: the newest message is not in
	// the list until scrolling down pages forward and joins the live end,
	// where a message Bob sends meanwhile shows too.
	if eval[bool](fresh, fmt.Sprintf(`!!document.querySelector('[data-testid=message-list] .msg[data-seq="%d"]')`, target.Seq+1500)) {
		t.Errorf("the whole history was loaded for a message link")
	}
	// Up: older pages than the one around the link.
	fresh.wait("older messages reached by scrolling up", fmt.Sprintf(`(() => { const s = document.querySelector('.room .scroller');
		if (s.scrollTop === 0) document.querySelector('[data-testid=load-older]')?.click(); else s.scrollTop = 0;
		return !!document.querySelector('[data-testid=message-list] .msg[data-seq="%d"]'); })()`, target.Seq-150))
	var live message
	bobAPI.must(201, "POST", fmt.Sprintf("/api/chat/rooms/%d/messages", archive.ID), map[string]string{"body": "Live while Alice reads far back"}, &live)
	fresh.wait("the newest messages reached by scrolling down", fmt.Sprintf(`(() => { const s = document.querySelector('.room .scroller'); s.scrollTop = s.scrollHeight;
		return [...document.querySelectorAll('[data-testid=message-list] .msg[data-id]')].at(-1)?.dataset.id === '%d'; })()`, live.ID))
	fresh.open(fmt.Sprintf("/rooms/%d?m=%d", archive.ID, target.ID))
	fresh.wait("the linked message again", fmt.Sprintf(`!!document.querySelector('[data-testid=message-list] .msg.highlight[data-id="%d"]')`, target.ID))
	fresh.screenshot("permalink")

	if os.Getenv("PARLEY_UPDATE_SCREENSHOTS") != "" {
		for _, name := range []string{"thread-pane", "permalink"} {
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
