package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/parleychat/parley/platform/testkit"
)

// TestBrowserTokensAndBots drives the settings page's personal access
// tokens (create by keyboard, the secret shown once and copied, used from
// an HTTP client, revoked after a confirmation), a bot's message with its
// BOT tag, and the admin page's Bots section (create a bot, make it a
// token).
func TestBrowserTokensAndBots(t *testing.T) {
	chromiumPath(t)
	s := startStack(t)
	gw := &api{t: t, base: s.Gateway.URL}
	gw.must(201, "POST", "/api/auth/register", map[string]string{"username": "pia", "password": password}, nil)
	var adm session
	gw.must(200, "POST", "/api/auth/login", map[string]string{"username": "admin", "password": adminPassword}, &adm)
	ad := gw.with(adm.AccessToken)

	// A bot posts into General with its token.
	var bot struct {
		ID int64 `json:"id"`
	}
	ad.must(201, "POST", "/api/auth/bots", map[string]string{"username": "deploy-bot", "display_name": "Deploy"}, &bot)
	var botPAT patCreated
	ad.must(201, "POST", fmt.Sprintf("/api/auth/bots/%d/tokens", bot.ID), map[string]any{"name": "ci"}, &botPAT)
	botAPI := gw.with(botPAT.Token)
	var rooms struct {
		Rooms []room `json:"rooms"`
	}
	botAPI.must(200, "GET", "/api/chat/rooms", nil, &rooms)
	botAPI.must(201, "POST", fmt.Sprintf("/api/chat/rooms/%d/messages", rooms.Rooms[0].ID), map[string]string{"body": "Deploy 42 is live"}, nil)

	br := startBrowser(t)
	p := br.newTab("pia", s.FrontendURL)
	defer p.checkClean()
	p.login("pia", password)
	p.wait("the live connection", jsConnected)
	p.openRoom("General")
	p.wait("the bot's message with its BOT tag", `(() => {
		const m = [...document.querySelectorAll('[data-testid=message]')].find(e => e.textContent.includes('Deploy 42 is live'));
		const tag = m?.querySelector('[data-testid=bot-tag]');
		return !!tag && tag.textContent.includes('(bot)') && tag.querySelector('[aria-hidden=true]').textContent === 'BOT';
	})()`)
	room := p.audit("a room with a bot's message")
	room.axTree(axWant{app: true})
	room.contrast()
	if eval[bool](p, `[...document.querySelectorAll('[data-testid=message]')].filter(e => !e.textContent.includes('Deploy 42')).some(e => e.querySelector('[data-testid=bot-tag]'))`) {
		t.Error("a person's message carries a BOT tag")
	}

	// Create a token by keyboard on the settings page.
	p.open("/settings")
	p.wait("the tokens card", `!!document.querySelector('[data-testid=settings-tokens] [data-testid=token-form]') && document.querySelector('[data-testid=token-status]')?.textContent === 'No tokens yet.'`)
	p.click("token-create")
	p.wait("the empty name refused", `document.querySelector('[data-testid=token-error]')?.textContent.includes('name')`)
	p.typeText(tid("token-name"), "CI deploy")
	p.setValue(tid("token-expiry"), "7")
	p.focusOn(tid("token-create"))
	p.press("Enter")
	p.wait("the new token shown once", `/^parley_pat_\d+_[A-Za-z0-9_-]{43}$/.test(document.querySelector('[data-testid=token-secret]')?.value ?? '') && document.activeElement?.dataset.testid === 'token-secret'`)
	secret := eval[string](p, `document.querySelector('[data-testid=token-secret]').value`)
	p.click("token-copy")
	p.wait("the copy confirmed", `(document.querySelector('[data-testid=token-copied]')?.textContent ?? '') !== ''`)
	item := eval[map[string]string](p, `(() => { const li = document.querySelector('[data-testid=token-item]');
		return { name: li.dataset.tokenName, expires: li.querySelector('[data-testid=token-expires]').textContent, text: li.textContent }; })()`)
	if item["name"] != "CI deploy" || item["expires"] != "Expires in 7 days" {
		t.Errorf("listed token %v", item)
	}
	if strings.Contains(item["text"], secret[len(secret)-20:]) {
		t.Error("the list shows the secret")
	}
	p.screenshot("tokens")
	tok := p.audit("settings, a new token")
	tok.axTree(axWant{app: true})
	tok.contrast()

	// The token works from an HTTP client.
	gw.with(secret).must(200, "GET", "/api/chat/rooms", nil, nil)

	// Done hides the secret for good; revoke after the confirmation.
	p.click("token-done")
	p.wait("the secret gone", `!document.querySelector('[data-testid=token-secret]') && document.activeElement?.dataset.testid === 'token-name'`)
	p.click("token-revoke")
	p.wait("the confirmation", `!!document.querySelector('dialog[open] [data-testid=confirm-ok]')`)
	p.jsClick(`dialog[open] [data-testid=confirm-ok]`)
	p.wait("the token gone from the list", `!document.querySelector('[data-testid=token-item]') && document.querySelector('[data-testid=token-status]').textContent === 'No tokens yet.'`)
	testkit.Eventually(t, "the revoked token refused", revocationDeadline, func() bool {
		return gw.with(secret).do("GET", "/api/chat/rooms", nil).Status == 401
	})

	// Phone width: the page reflows (no sideways scrolling); a token made
	// there shows the same way.
	p.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateTouch))
	p.open("/settings")
	p.wait("the tokens card on a phone", `document.querySelector('[data-testid=token-status]')?.textContent === 'No tokens yet.'`)
	p.typeText(tid("token-name"), "Phone script")
	p.click("token-create")
	p.wait("the token on a phone", `!!document.querySelector('[data-testid=token-secret]')`)
	if w := eval[float64](p, `document.documentElement.scrollWidth - document.documentElement.clientWidth`); w > 0 {
		t.Errorf("the settings page is %v px wider than a phone", w)
	}
	p.screenshot("tokens-phone")
	p.do(chromedp.EmulateViewport(1280, 800))

	// The admin page's Bots: the bot is listed; a second one is created
	// and given a token there.
	a := br.newTab("admin", s.FrontendURL)
	defer a.checkClean()
	a.login("admin", adminPassword)
	a.open("/admin")
	a.wait("the bots", `!!document.querySelector('[data-testid=admin-bot][data-username=deploy-bot] [data-testid=bot-state]')`)
	a.typeText(tid("bot-username"), "release-bot")
	a.typeText(tid("bot-display-name"), "Release")
	a.click("bot-create")
	a.wait("the new bot with its tokens open", `!!document.querySelector('[data-testid=admin-bot][data-username=release-bot] details[open] [data-testid=token-form]')`)
	a.typeText(`[data-testid=admin-bot][data-username=release-bot] [data-testid=token-name]`, "nightly")
	a.jsClick(`[data-testid=admin-bot][data-username=release-bot] [data-testid=token-create]`)
	a.wait("the bot's token shown", `/^parley_pat_/.test(document.querySelector('[data-testid=admin-bot][data-username=release-bot] [data-testid=token-secret]')?.value ?? '')`)
	botSecret := eval[string](a, `document.querySelector('[data-testid=admin-bot][data-username=release-bot] [data-testid=token-secret]').value`)
	var me struct {
		Username string `json:"username"`
		IsBot    bool   `json:"is_bot"`
	}
	gw.with(botSecret).must(200, "GET", "/api/auth/me", nil, &me)
	if me.Username != "release-bot" || !me.IsBot {
		t.Errorf("the bot token speaks for %+v", me)
	}
	a.screenshot("admin-bots")
	bots := a.audit("admin, bots")
	bots.axTree(axWant{app: true})
	bots.contrast()

	if os.Getenv("PARLEY_UPDATE_SCREENSHOTS") != "" {
		copyScreenshotFiles(t, "tokens", "tokens-phone", "admin-bots")
	}
}
