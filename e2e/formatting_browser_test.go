package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserFormatting: message formatting in the SPA. Alice opens the
// composer's formatting hint, writes a formatted message line by line with
// Shift+Enter (bold, italic, a link, a code block with a long line, a
// quote, two lists) and Bob's window shows it as elements — strong, em,
// a[href], pre>code scrolling sideways on its own, blockquote, li — on a
// desktop and at phone width; the sidebar preview and the search hit show
// it without markers. A message of XSS payloads (javascript: links in
// several spellings, <img onerror>, <script>, data: and SVG) stays text:
// nothing runs and no javascript: link exists.
func TestBrowserFormatting(t *testing.T) {
	chromiumPath(t)
	s := startStack(t)
	b := startBrowser(t)
	alice := b.newTab("alice", s.FrontendURL)
	bob := b.newTab("bob", s.FrontendURL)
	defer alice.checkClean()
	defer bob.checkClean()
	alice.register("alice")
	bob.register("bob")

	// The hint: the Formatting button shows the syntax, and the composer is
	// described by it while it shows.
	alice.click("format-toggle")
	alice.wait("the formatting hint", `(() => { const f = document.querySelector('[data-testid=format-hint]');
		return !f.hidden && f.textContent.includes('**bold**') && document.querySelector('[data-testid=format-toggle]').getAttribute('aria-expanded') === 'true'
			&& document.querySelector('[data-testid=composer]').getAttribute('aria-describedby').split(' ').includes(f.id); })()`)

	long := "fmt.Println(\"" + strings.Repeat("a very long line of code ", 14) + "\")"
	lines := []string{
		"**Release** plan: see [the board](https://example.com/board) and _the notes_",
		"```go",
		long,
		"```",
		"> ship it on ~~Thursday~~ Friday",
		"- build",
		"- test",
		"1. tag",
		"2. deploy",
	}
	typeLines(alice, lines)
	alice.wait("Shift+Enter made new lines", fmt.Sprintf(`document.querySelector('[data-testid=composer]').value === %q`, strings.Join(lines, "\n")))
	alice.do(pressEnter)

	msg := `[...document.querySelectorAll('[data-testid=message-list] [data-testid=message-body]')].find(b => b.querySelector('strong')?.textContent === 'Release')`
	bob.wait("the formatted message", fmt.Sprintf(`(() => { const m = %s; if (!m) return false;
		const a = m.querySelector('a[href="https://example.com/board"]');
		return a?.textContent === 'the board' && a.target === '_blank' && a.rel.includes('noopener')
			&& m.querySelector('em')?.textContent === 'the notes'
			&& m.querySelector('pre > code')?.textContent === %q
			&& m.querySelector('blockquote')?.textContent === 'ship it on Thursday Friday' && m.querySelector('blockquote del')?.textContent === 'Thursday'
			&& [...m.querySelectorAll('ul > li')].map(l => l.textContent).join() === 'build,test'
			&& [...m.querySelectorAll('ol > li')].map(l => l.textContent).join() === 'tag,deploy'
			&& !m.textContent.includes('**') && !m.textContent.includes('`+"```"+`'); })()`, msg, long))
	// The code block scrolls on its own; the page and the message do not.
	checkCodeScrolls := func(p *tab, where string) {
		t.Helper()
		p.wait("the code block scrolling sideways "+where, fmt.Sprintf(`(() => { const m = %s; const pre = m.querySelector('pre');
			const list = document.querySelector('[data-testid=message-list]').getBoundingClientRect();
			return pre.scrollWidth > pre.clientWidth + 20 && getComputedStyle(pre).overflowX === 'auto'
				&& pre.getBoundingClientRect().right <= list.right + 1 && m.getBoundingClientRect().right <= list.right + 1
				&& document.documentElement.scrollWidth <= document.documentElement.clientWidth; })()`, msg))
	}
	checkCodeScrolls(bob, "on a desktop")
	bob.wait("the sidebar preview without markers", `(() => { const p = document.querySelector('[data-testid=room-item][data-room-name="General"] [data-testid=room-preview]')?.textContent ?? '';
		return p.includes('Release plan: see the board') && !p.includes('**') && !p.includes('](') })()`)
	bob.screenshot("formatted-code")
	// Code, quotes and struck text are readable in both themes.
	bob.audit("formatted message").contrast()
	eval[chromedp.Void](bob, `document.documentElement.dataset.theme = 'dark'`)
	bob.audit("formatted message, dark").contrast()
	bob.screenshot("formatted-code-dark")
	eval[chromedp.Void](bob, `document.documentElement.dataset.theme = 'light'`)

	// A phone: the code block still scrolls inside the message.
	bob.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	bob.wait("the phone layout settled", `document.getAnimations().every(a => a.playState !== 'running')`)
	checkCodeScrolls(bob, "on a phone")
	bob.screenshot("formatted-code-phone")
	bob.do(chromedp.EmulateViewport(1280, 800))

	// XSS payloads stay text.
	eval[chromedp.Void](bob, `window.__xss = undefined`)
	xss := []string{
		"XSS [one](javascript:window.__xss=1) [two](JaVaScRiPt:window.__xss=2) [three](jav&#x61;script:window.__xss=3) [four]( javascript:window.__xss=4)",
		`<img src=x onerror="window.__xss=5"> <script>window.__xss=6</script> [six](data:text/html,<script>parent.__xss=7</script>) **<svg onload=window.__xss=8>**`,
		"[[nested](javascript:window.__xss=9)](https://example.com/ok) *unclosed **emphasis _everywhere",
		"```html",
		`<img src=x onerror="window.__xss=10">`,
	}
	typeLines(alice, xss)
	alice.do(pressEnter)
	xssMsg := `[...document.querySelectorAll('[data-testid=message-list] [data-testid=message-body]')].find(b => b.textContent.startsWith('XSS '))`
	bob.wait("the XSS message", xssMsg+`?.querySelector('pre > code')?.textContent.includes('onerror')`)
	if got := eval[string](bob, xssMsg+`.textContent`); !strings.Contains(got, "[one](javascript:window.__xss=1)") || !strings.Contains(got, "<script>window.__xss=6</script>") {
		t.Errorf("the payloads are not shown as text: %q", got)
	}
	if n := eval[int](bob, `document.querySelectorAll('a[href^="javascript" i], a[href^="data" i], a[href^="vbscript" i]').length`); n != 0 {
		t.Errorf("%d links to javascript:, data: or vbscript:", n)
	}
	if bad := eval[[]string](bob, `[...document.querySelectorAll('[data-testid=message-body] a')].map(a => a.getAttribute('href')).filter(h => !/^(https?:\/\/|mailto:)/.test(h))`); len(bad) != 0 {
		t.Errorf("message links to %q", bad)
	}
	if n := eval[int](bob, `document.querySelectorAll('[data-testid=message-body] :is(img, script, svg, iframe, object)').length`); n != 0 {
		t.Errorf("the payloads made %d element(s)", n)
	}
	if got := eval[string](bob, xssMsg+`.querySelector('a')?.getAttribute('href') ?? ''`); got != "https://example.com/ok" {
		t.Errorf("the one safe link is %q", got)
	}
	if v := eval[string](bob, `String(window.__xss)`); v != "undefined" {
		t.Errorf("injected script ran: window.__xss = %s", v)
	}

	// Search: the hit shows the message formatted on one line, the query
	// marked, no link inside the hit (the hit is the link).
	bob.open("/search?q=Release")
	bob.wait("the search hit", `(() => { const h = document.querySelector('[data-testid=search-hit] .hit-body'); if (!h) return false;
		return h.querySelector('strong mark')?.textContent === 'Release' && !h.querySelector('a, pre') && h.querySelector('code')?.textContent.startsWith('fmt.Println')
			&& !h.textContent.includes('**'); })()`)
	if v := eval[string](bob, `String(window.__xss)`); v != "undefined" {
		t.Errorf("injected script ran: window.__xss = %s", v)
	}

	if os.Getenv("PARLEY_UPDATE_SCREENSHOTS") != "" {
		copyScreenshotFiles(t, "formatted-code")
	}
}

// typeLines types lines into the composer, Shift+Enter between them.
func typeLines(p *tab, lines []string) {
	p.t.Helper()
	for i, l := range lines {
		p.typeText(tid("composer"), l)
		if i < len(lines)-1 {
			p.press("Enter", true)
		}
	}
}
