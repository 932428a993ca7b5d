package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// TestBrowserFiles drives file sharing in the SPA: Alice attaches an image
// with the paperclip (the real file chooser, intercepted) and another by
// pasting, sends them, and Bob sees both inline and opens them in the
// lightbox with the keyboard; a text file dropped on the room and one whose
// name is an XSS payload arrive as cards with a download link (the payload
// stays text); a file over the limit shows the server's error on its chip;
// a slow upload is cancelled; and the lot works at phone width.
func TestBrowserFiles(t *testing.T) {
	chromiumPath(t)
	const maxBytes = 1 << 20
	s := startStack(t, map[string]string{"FILE_MAX_BYTES": strconv.Itoa(maxBytes), "SEND_RATE": "100000", "SEND_BURST": "100000"})
	b := startBrowser(t)
	alice := b.newTab("alice", s.FrontendURL)
	defer alice.checkClean()
	bob := b.newTab("bob", s.FrontendURL)
	defer bob.checkClean()
	alice.register("alice")
	bob.register("bob")

	dir := t.TempDir()
	harbour := writeTestPNG(t, dir, "harbour.png", 640, 480, color.RGBA{40, 110, 190, 255})
	notes := filepath.Join(dir, "meeting-notes.txt")
	notesText := "Agenda: ship files on Friday.\n"
	if err := os.WriteFile(notes, []byte(notesText), 0o644); err != nil {
		t.Fatal(err)
	}
	// A file name is untrusted input: this one must show as text.
	xssName := xssPayload + ".txt"
	xss := filepath.Join(dir, xssName)
	if err := os.WriteFile(xss, []byte("harmless"), 0o644); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "too-big.bin")
	if err := os.WriteFile(big, bytes.Repeat([]byte{7}, maxBytes+300_000), 0o644); err != nil {
		t.Fatal(err)
	}

	chips := `[...document.querySelectorAll('[data-testid=attach-chip]')]`
	doneChips := func(n int) string {
		return fmt.Sprintf(`%s.length === %d && %s.every(c => c.dataset.state === 'done')`, chips, n, chips)
	}

	// ---- an image by the paperclip: a real button opening the file chooser ----

	btn := eval[string](alice, `(() => { const b = document.querySelector('[data-testid=attach-button]'); return b.tagName + '|' + b.getAttribute('aria-label'); })()`)
	if btn != "BUTTON|Attach files" {
		t.Errorf("the paperclip is %q, want a button labelled Attach files", btn)
	}
	alice.pickFiles(alice.openPicker, harbour)
	alice.wait("the picked image uploaded, its chip with a preview", doneChips(1)+` && !!document.querySelector('[data-testid=attach-chip] .attach-thumb') && document.querySelector('[data-testid=attach-name]').textContent === 'harbour.png'`)

	// ---- an image by paste ----------------------------------------------------

	pasted := stripedPNG(t, 300, 500, color.RGBA{200, 120, 40, 255})
	eval[chromedp.Void](alice, fmt.Sprintf(`(() => {
		const bin = atob(%q); const bytes = new Uint8Array(bin.length); for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
		const dt = new DataTransfer(); dt.items.add(new File([bytes], 'image.png', { type: 'image/png' }));
		const ta = document.querySelector('[data-testid=composer]'); ta.focus();
		ta.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
	})()`, base64.StdEncoding.EncodeToString(pasted)))
	alice.wait("the pasted image uploaded under a name of its own", doneChips(2)+` && /^pasted-\d{8}-\d{6}\.png$/.test(document.querySelectorAll('[data-testid=attach-name]')[1].textContent)`)
	if v := eval[string](alice, `document.querySelector('[data-testid=composer]').value`); v != "" {
		t.Errorf("pasting an image typed %q into the composer", v)
	}
	alice.screenshot("files-composer")
	alice.typeText(tid("composer"), "Two views of the harbour")
	alice.do(pressEnter)
	alice.wait("the tray emptied by the send", `document.querySelector('[data-testid=attach-tray]').hidden`)

	// ---- Bob sees both inline; the space is reserved before they load -----

	imgMsg := `[...document.querySelectorAll('[data-testid=message-list] [data-testid=message]')].find(m => m.querySelector('[data-testid=message-body]')?.textContent === 'Two views of the harbour')`
	bob.wait("the two images inline, loaded", imgMsg+`?.querySelectorAll('[data-testid=file-image] img').length === 2 && [...`+imgMsg+`.querySelectorAll('[data-testid=file-image] img')].every(i => i.complete && i.naturalWidth > 0)`)
	sizes := eval[string](bob, `[...`+imgMsg+`.querySelectorAll('[data-testid=file-image] img')].map(i => i.alt + ':' + i.getAttribute('width') + 'x' + i.getAttribute('height')).join(',')`)
	if !strings.HasPrefix(sizes, "harbour.png:220x165,pasted-") || !strings.HasSuffix(sizes, ".png:108x180") {
		t.Errorf("the previews' alt text and reserved sizes: %s", sizes)
	}
	if name := eval[string](bob, imgMsg+`.getAttribute('aria-labelledby').split(' ').map(id => document.getElementById(id)?.textContent ?? '').join(' | ')`); !strings.Contains(name, "2 attachments: harbour.png (image), pasted-") {
		t.Errorf("the message's accessible name does not list its files: %q", name)
	}
	bob.screenshot("files-images")

	// ---- the lightbox, by keyboard ------------------------------------------

	firstImg := imgMsg + `.querySelector('[data-testid=file-image]')`
	eval[chromedp.Void](bob, firstImg+`.focus()`)
	bob.press("Enter")
	bob.wait("the lightbox open on the first image, the focus inside", `document.querySelector('dialog[data-testid=lightbox]')?.open && document.querySelector('[data-testid=lightbox-title]').textContent === 'harbour.png'
		&& document.querySelector('[data-testid=lightbox]').contains(document.activeElement) && document.querySelector('[data-testid=lightbox-img]').complete && document.querySelector('[data-testid=lightbox-img]').naturalWidth === 640`)
	if c := eval[string](bob, `document.querySelector('[data-testid=lightbox-count]').textContent`); !strings.HasPrefix(c, "1 of 2") {
		t.Errorf("the lightbox counter says %q", c)
	}
	bob.press("ArrowRight")
	bob.wait("the second image", `/^pasted-/.test(document.querySelector('[data-testid=lightbox-title]').textContent) && document.querySelector('[data-testid=lightbox-img]').naturalWidth === 300 && document.querySelector('[data-testid=lightbox-count]').textContent.startsWith('2 of 2')`)
	if href := eval[string](bob, `document.querySelector('[data-testid=lightbox-download]').href`); !strings.Contains(href, "/api/chat/files/") {
		t.Errorf("the lightbox's download link is %q", href)
	}
	// Tab stays inside the dialog.
	for i := 0; i < 5; i++ {
		bob.press("Tab")
		if !eval[bool](bob, `document.querySelector('[data-testid=lightbox]').contains(document.activeElement)`) {
			t.Fatalf("Tab %d left the lightbox for %s", i+1, eval[string](bob, `document.activeElement?.outerHTML.slice(0, 80) ?? ''`))
		}
	}
	bob.press("ArrowLeft")
	bob.wait("back on the first image", `document.querySelector('[data-testid=lightbox-title]').textContent === 'harbour.png'`)
	bob.screenshot("files-lightbox")
	lb := bob.audit("lightbox")
	lb.axTree(axWant{dialog: true})
	lb.contrast()
	bob.press("Escape")
	bob.wait("the lightbox closed, the focus back on the preview", `!document.querySelector('[data-testid=lightbox]') && document.activeElement === `+firstImg)

	// ---- a text file dropped on the room, an XSS name by the picker --------

	eval[chromedp.Void](alice, fmt.Sprintf(`(() => {
		const dt = new DataTransfer(); dt.items.add(new File([%q], 'meeting-notes.txt', { type: 'text/plain' }));
		const zone = document.querySelector('[data-testid=room-view] .scroller');
		zone.dispatchEvent(new DragEvent('dragenter', { dataTransfer: dt, bubbles: true, cancelable: true }));
		window.__dropTarget = dt;
	})()`, notesText))
	alice.wait("the drop target showing", `!document.querySelector('[data-testid=room-view] [data-testid=drop-overlay]').hidden`)
	alice.screenshot("files-drop")
	eval[chromedp.Void](alice, `document.querySelector('[data-testid=room-view] .scroller').dispatchEvent(new DragEvent('drop', { dataTransfer: window.__dropTarget, bubbles: true, cancelable: true }))`)
	alice.wait("the drop target gone, the file uploaded", `document.querySelector('[data-testid=room-view] [data-testid=drop-overlay]').hidden && `+doneChips(1))
	alice.pickFiles(alice.openPicker, xss)
	alice.wait("both files uploaded", doneChips(2))
	// No text: a message of files alone.
	alice.focusOn(tid("composer"))
	alice.do(pressEnter)
	cardMsg := `[...document.querySelectorAll('[data-testid=message-list] [data-testid=message]')].find(m => m.querySelectorAll('[data-testid=file-card]').length === 2)`
	bob.wait("the two cards", `!!`+cardMsg)
	cards := eval[[]string](bob, `[...`+cardMsg+`.querySelectorAll('[data-testid=file-card]')].map(c => c.querySelector('[data-testid=file-name]').textContent + '|' + c.querySelector('[data-testid=file-size]').textContent + '|' + c.querySelector('[data-testid=file-download]').getAttribute('aria-label'))`)
	want := []string{"meeting-notes.txt|30 B|Download meeting-notes.txt, 30 B", xssName + "|8 B|Download " + xssName + ", 8 B"}
	if strings.Join(cards, "\n") != strings.Join(want, "\n") {
		t.Errorf("cards:\n%s\nwant:\n%s", strings.Join(cards, "\n"), strings.Join(want, "\n"))
	}
	if eval[bool](bob, `!!document.querySelector('img[src="x"]') || !!`+cardMsg+`.querySelector('[data-testid=file-card] img')`) {
		t.Errorf("the XSS file name became markup")
	}
	if eval[bool](bob, cardMsg+`.querySelector('[data-testid=message-body]')?.hidden === false`) {
		t.Errorf("a message of files alone shows an empty body")
	}
	// The download link works without a token and is an attachment.
	href := eval[string](bob, cardMsg+`.querySelector('[data-testid=file-download]').href`)
	resp, err := http.Get(href)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != notesText || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Errorf("download: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Disposition"), body)
	}
	// The sidebar's preview of a message of files alone names them.
	bob.wait("the room's preview names the files", `[...document.querySelectorAll('[data-testid=room-item]')].some(r => r.textContent.includes('📎 meeting-notes.txt'))`)
	bob.screenshot("files-card")

	// The room with files: names, contrast in both themes, every Tab stop.
	a := bob.audit("files in the room")
	a.axTree(axWant{app: true, messages: true})
	a.contrast()
	bob.setDark(true)
	bob.audit("files in the room, dark").contrast()
	bob.setDark(false)
	bob.audit("files in the room, keyboard").keyboardWalk(walkOpts{looks: map[string]bool{}})

	// ---- a reply with a file, in the thread pane ------------------------------

	eval[chromedp.Void](alice, imgMsg+`.querySelector('[data-testid=reply-in-thread]').click()`)
	alice.wait("the thread pane with the images of its root", `document.querySelectorAll('[data-testid=thread-pane] [data-testid=thread-root] [data-testid=file-image]').length === 2 && document.activeElement?.dataset.testid === 'thread-composer'`)
	alice.pickFiles(func() {
		alice.focusOn(`[data-testid=thread-pane] [data-testid=attach-button]`)
		alice.press("Enter")
	}, notes)
	paneChips := `[...document.querySelectorAll('[data-testid=thread-pane] [data-testid=attach-chip]')]`
	alice.wait("uploaded into the pane's own tray", paneChips+`.length === 1 && `+paneChips+`[0].dataset.state === 'done' && `+chips+`.length === 1`)
	// A file dropped on the pane goes to the reply, not to the room's composer.
	eval[chromedp.Void](alice, `(() => {
		const dt = new DataTransfer(); dt.items.add(new File(['1. files'], 'agenda.txt', { type: 'text/plain' }));
		const zone = document.querySelector('[data-testid=thread-pane] .scroller');
		for (const type of ['dragenter', 'dragover', 'drop']) zone.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
	})()`)
	alice.wait("the dropped file in the pane's tray only", paneChips+`.length === 2 && `+paneChips+`.every(c => c.dataset.state === 'done') && `+chips+`.length === 2
		&& document.querySelector('[data-testid=room-view] > .room-body > .timeline [data-testid=attach-tray]').hidden && document.querySelectorAll('[data-testid=drop-overlay]:not([hidden])').length === 0`)
	alice.typeText(tid("thread-composer"), "The notes, for the record")
	alice.do(pressEnter)
	bob.wait("the reply counted under the root", imgMsg+`?.querySelector('[data-testid=thread-summary]')?.dataset.count === '1'`)
	eval[chromedp.Void](bob, imgMsg+`.querySelector('[data-testid=thread-summary]').click()`)
	bob.wait("the reply's file card in Bob's pane", `[...document.querySelectorAll('[data-testid=thread-pane] [data-testid=thread-reply]')].some(r => r.textContent.includes('The notes, for the record') && r.querySelector('[data-testid=file-card] [data-testid=file-name]')?.textContent === 'meeting-notes.txt')`)
	bob.screenshot("files-thread")
	bob.click("thread-close")
	alice.click("thread-close")
	alice.wait("the pane closed", `!document.querySelector('[data-testid=thread-pane]')`)

	// ---- errors: too large, cancelled ---------------------------------------

	alice.pickFiles(alice.openPicker, big)
	alice.wait("the server's error on the chip, announced", `document.querySelector('[data-testid=attach-chip][data-state=error] [data-testid=attach-error]')?.textContent.length > 0
		&& [...document.querySelectorAll('[data-testid=announcer] p')].some(p => p.textContent.startsWith('too-big.bin could not be uploaded'))`)
	t.Logf("too large: %q", eval[string](alice, `document.querySelector('[data-testid=attach-error]').textContent`))
	if eval[string](alice, `document.querySelector('[data-testid=send]').getAttribute('aria-disabled')`) != "true" {
		t.Errorf("send is allowed with a failed attachment in the tray")
	}
	alice.screenshot("files-error")
	alice.audit("an upload error").contrast()
	alice.jsClick(`[data-testid=attach-chip][data-state=error] [data-testid=attach-remove]`)
	alice.wait("the failed chip removed", chips+`.length === 0`)

	// A slow upload (the network throttled) shows its progress and cancels.
	slow := writeTestPNG(t, dir, "slow.png", 900, 700, color.RGBA{90, 160, 90, 255})
	alice.throttleUploads(s.Gateway.URL, true)
	alice.pickFiles(alice.openPicker, slow)
	alice.wait("uploading with a progress bar", `document.querySelector('[data-testid=attach-chip][data-state=uploading] progress[data-testid=attach-progress]')?.getAttribute('aria-label') === 'Uploading slow.png'`)
	alice.jsClick(`[data-testid=attach-cancel]`)
	alice.wait("cancelled and said so", chips+`.length === 0 && [...document.querySelectorAll('[data-testid=announcer] p')].some(p => p.textContent === 'Upload of slow.png cancelled')`)
	alice.throttleUploads(s.Gateway.URL, false)

	// ---- a phone -----------------------------------------------------------------

	bob.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateTouch))
	bob.open("/") // laid out for the phone from the start
	bob.wait("the phone layout with the images", jsRoomTitle+` === 'General' && getComputedStyle(document.querySelector('[data-testid=drawer-toggle]')).display !== 'none' && !!`+imgMsg)
	bob.wait("the room fills the screen, no file wider than it", `(() => { const s = document.querySelector('.room .scroller'); s.scrollTop = s.scrollHeight;
		return document.documentElement.scrollWidth <= innerWidth && document.querySelector('[data-testid=room-view]').getBoundingClientRect().left === 0
			&& [...document.querySelectorAll('.file-card, .file-image')].every(e => e.getBoundingClientRect().left >= 0 && e.getBoundingClientRect().right <= innerWidth); })()`)
	bob.screenshot("files-phone")
	eval[chromedp.Void](bob, firstImg+`.click()`)
	bob.wait("the lightbox over the whole phone screen", `(() => { const d = document.querySelector('[data-testid=lightbox]'); if (!d?.open) return false; const r = d.getBoundingClientRect(); return r.width === innerWidth && document.querySelector('[data-testid=lightbox-img]').naturalWidth === 640; })()`)
	bob.screenshot("files-lightbox-phone")
	bob.click("lightbox-close")
	bob.wait("closed", `!document.querySelector('[data-testid=lightbox]')`)

	if os.Getenv("PARLEY_UPDATE_SCREENSHOTS") != "" {
		for _, name := range []string{"files-composer", "files-images", "files-lightbox", "files-card", "files-thread", "files-phone"} {
			in, err := os.ReadFile(filepath.Join(screenshotDir, name+".png"))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join("..", "docs", "screenshots", name+".png"), in, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// pickFiles answers the file chooser that open (a click or key press on
// the paperclip) brings up, as a user picking files would: the chooser is
// intercepted and the files are set on the input that opened it.
func (p *tab) pickFiles(open func(), files ...string) {
	p.t.Helper()
	p.call("intercept the file chooser", func(ctx context.Context) error {
		_, err := chromedp.Call(ctx, page.SetInterceptFileChooserDialog, page.SetInterceptFileChooserDialogParams{Enabled: true})
		return err
	})
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	opened := make(chan page.EventFileChooserOpened, 1)
	go func() {
		for ev, err := range chromedp.Events(ctx, page.FileChooserOpened) {
			if err != nil {
				return
			}
			opened <- ev
			return
		}
	}()
	open()
	select {
	case ev := <-opened:
		p.call("choose files", func(ctx context.Context) error {
			_, err := chromedp.Call(ctx, dom.SetFileInputFiles, dom.SetFileInputFilesParams{Files: files, BackendNodeID: ev.BackendNodeID})
			return err
		})
	case <-ctx.Done():
		p.fail("the file chooser did not open")
	}
}

// openPicker presses Enter on the paperclip (a key press, so the page may
// open the file chooser: a script's click could not).
func (p *tab) openPicker() {
	p.t.Helper()
	p.focusOn(tid("attach-button"))
	p.press("Enter")
}

// throttleUploads makes requests to the gateway's upload route slow (3 s
// before an answer, 64 KB/s up), or lifts that.
func (p *tab) throttleUploads(gateway string, on bool) {
	p.t.Helper()
	p.call("throttle uploads", func(ctx context.Context) error {
		if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		var rules []*network.Conditions
		if on {
			rules = append(rules, &network.Conditions{URLPattern: strings.TrimRight(gateway, "/") + "/api/chat/rooms/*/files", Latency: 3000, DownloadThroughput: -1, UploadThroughput: 64 << 10})
		}
		_, err := chromedp.Call(ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{MatchedNetworkConditions: rules})
		return err
	})
}

// stripedPNG is a w×h PNG: a colour fading into a diagonal stripe pattern.
func stripedPNG(t *testing.T, w, h int, c color.RGBA) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			shade := uint8((x + y) % 64)
			if (x/40+y/40)%2 == 0 {
				shade += 60
			}
			img.Set(x, y, color.RGBA{c.R/2 + shade, c.G/2 + shade/2, c.B / 2, 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeTestPNG(t *testing.T, dir, name string, w, h int, c color.RGBA) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, stripedPNG(t, w, h, c), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
