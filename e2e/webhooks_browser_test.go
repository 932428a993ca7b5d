package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserWebhooks: in a room's Integrations dialog Alice creates a
// webhook by keyboard; its URL is shown once, focused and selected, with
// Copy and a curl example; a plain Go HTTP client posts to the URL and the
// message appears in the room live with the webhook's name and an APP tag;
// the list names the creator; deleting asks first, and the URL is then
// refused. The dialog fits a phone's width. Screenshots: webhooks.png,
// webhook-message.png, webhooks-phone.png.
func TestBrowserWebhooks(t *testing.T) {
	chromiumPath(t)
	s := startStack(t)
	anon := &api{t: t, base: s.Gateway.URL}
	aliceAPI, _ := register(t, anon, "alice")
	var r room
	aliceAPI.must(201, "POST", "/api/chat/rooms", map[string]string{"name": "deploys", "description": "Releases and CI", "kind": "public"}, &r)
	aliceAPI.must(201, "POST", fmt.Sprintf("/api/chat/rooms/%d/messages", r.ID), map[string]string{"body": "Release 2.3 goes out today."}, nil)

	b := startBrowser(t)
	alice := b.newTab("alice", s.FrontendURL)
	defer alice.checkClean()
	alice.login("alice", "password-alice")
	alice.openRoom("deploys")

	alice.click("room-menu")
	alice.click("room-integrations")
	dlg := tid("webhooks-dialog")
	alice.wait("the dialog, its name box focused, the empty list", fmt.Sprintf(`!!document.querySelector(%q) && document.activeElement?.dataset.testid === 'webhook-name'
		&& !document.querySelector('[data-testid=webhook-empty]').hidden`, dlg))
	// An empty name is refused in the dialog, on the field.
	alice.press("Enter")
	alice.wait("the name's error", `document.querySelector('[data-testid=webhook-name]').getAttribute('aria-invalid') === 'true' && !!document.querySelector('[data-testid=field-error]')`)
	alice.typeText(tid("webhook-name"), "CI builds")
	alice.press("Enter")
	alice.wait("the URL, shown once, focused", `document.activeElement?.dataset.testid === 'webhook-url' && document.activeElement.value.includes('/api/chat/hooks/')
		&& document.querySelectorAll('[data-testid=webhook-item]').length === 1`)
	url := eval[string](alice, `document.querySelector('[data-testid=webhook-url]').value`)
	if !strings.HasPrefix(url, s.Gateway.URL+"/api/chat/hooks/") {
		t.Fatalf("the URL shown is %q, want it under the gateway %s", url, s.Gateway.URL)
	}
	if curl := eval[string](alice, `document.querySelector('[data-testid=webhook-curl]').textContent`); !strings.Contains(curl, "curl -X POST") || !strings.Contains(curl, url) {
		t.Errorf("curl example %q", curl)
	}
	if sub := eval[string](alice, `document.querySelector('[data-testid=webhook-item] .webhook-item-sub').textContent`); !strings.HasPrefix(sub, "Created by @alice on ") {
		t.Errorf("the list says %q", sub)
	}
	if said := eval[string](alice, `document.querySelector('[data-testid=announcer]')?.textContent ?? ''`); !strings.Contains(said, "Webhook CI builds created") {
		t.Errorf("the announcer said %q", said)
	}
	alice.screenshot("webhooks")
	// The dialog with its URL: landmarks, names and contrast, both themes.
	a := alice.audit("webhooks dialog")
	a.axTree(axWant{app: true, dialog: true})
	a.contrast()
	alice.setDark(true)
	alice.audit("webhooks dialog, dark").contrast()
	alice.setDark(false)

	// A program with nothing but the URL posts into the room.
	post := func(body string) int {
		res, err := (&http.Client{Timeout: 10 * time.Second}).Post(url, "application/json", bytes.NewBufferString(body))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if st := post(`{"text":"Deploy of 2.3 finished: all checks green."}`); st != http.StatusCreated {
		t.Fatalf("post to the webhook: %d", st)
	}
	alice.press("Escape")
	alice.wait("the dialog closed, the focus back on the room menu", fmt.Sprintf(`!document.querySelector(%q) && document.activeElement?.dataset.testid === 'room-menu'`, dlg))
	appMsg := `[...document.querySelectorAll('[data-testid=message-list] [data-testid=message]')].find(m => m.textContent.includes('Deploy of 2.3 finished'))`
	alice.wait("the webhook's message with its APP tag", appMsg+`?.querySelector('[data-testid=message-author]')?.textContent === 'CI buildsAPP' && !!`+appMsg+`.querySelector('[data-testid=app-tag]')`)
	// Read as "CI builds, app"; no profile button for a webhook.
	name := eval[string](alice, `(() => { const m = `+appMsg+`; const a = m.querySelector('[data-testid=message-author]');
		return a.tagName + '|' + a.querySelector('[data-testid=app-tag]').getAttribute('aria-label') + '|' + !!m.querySelector('.avatar-btn') + '|' + !!m.querySelector('[data-testid=edit-message]'); })()`)
	if name != "SPAN|, app|false|false" {
		t.Errorf("the webhook's message: author tag|tag label|profile button|edit = %q", name)
	}
	alice.screenshot("webhook-message")
	alice.audit("a webhook's message").contrast()
	alice.setDark(true)
	alice.audit("a webhook's message, dark").contrast()
	alice.setDark(false)

	// Deleting asks first; afterwards the URL is refused.
	alice.click("room-menu")
	alice.click("room-integrations")
	alice.wait("the list", `document.querySelectorAll('[data-testid=webhook-item]').length === 1`)
	if eval[bool](alice, `!!document.querySelector('[data-testid=webhook-url]')`) {
		t.Error("the URL is shown again after the dialog was closed")
	}
	alice.click("webhook-delete")
	alice.wait("the confirmation", `!!document.querySelector('[data-testid=confirm-dialog]')`)
	alice.click("confirm-ok")
	alice.wait("the empty list, focus in the name box", `document.querySelectorAll('[data-testid=webhook-item]').length === 0 && document.activeElement?.dataset.testid === 'webhook-name'`)
	if st := post(`{"text":"too late"}`); st != http.StatusNotFound {
		t.Errorf("post to a deleted webhook: %d, want 404", st)
	}

	// Phone width: a new webhook's URL and curl example fit the screen.
	alice.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateTouch))
	alice.typeText(tid("webhook-name"), "Alerts")
	alice.press("Enter")
	alice.wait("the URL on a phone", `document.activeElement?.dataset.testid === 'webhook-url'`)
	if over := eval[string](alice, `(() => { const d = document.querySelector('[data-testid=webhooks-dialog]'); const r = d.getBoundingClientRect();
		return r.left >= 0 && r.right <= innerWidth && d.scrollWidth <= d.clientWidth + 1 ? '' : r.left + '..' + r.right + ' of ' + innerWidth + ', scroll ' + d.scrollWidth + '/' + d.clientWidth; })()`); over != "" {
		t.Errorf("the dialog overflows a phone: %s", over)
	}
	alice.screenshot("webhooks-phone")
	if !t.Failed() {
		copyScreenshotFiles(t, "webhooks", "webhook-message", "webhooks-phone")
	}
}
