package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/css"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// The accessibility checks run on the browser's own engines: Chromium's
// computed accessibility tree (Accessibility.getFullAXTree) for names,
// roles, states and landmarks; the background colours Chromium resolves
// behind each text (CSS.getBackgroundColors, what DevTools' contrast
// checker uses) with the computed foreground, size and weight; real key
// presses for the focus order; screenshots for what focus looks like.
// contrastRatio is the one formula of our own.

// a11yJS defines window.__a11y in the page: the DOM walks the checks need
// (which elements carry text, which are Tab stops, what is behind them).
// Every value it returns is what Chromium computed (getComputedStyle,
// getBoundingClientRect, elementFromPoint); the judging happens in Go.
const a11yJS = `(() => {
if (window.__a11y) return window.__a11y;
const A = {};
A.desc = (el) => {
  if (!el || el === document.body || el === document.documentElement) return '<body>';
  let s = el.tagName.toLowerCase();
  if (el.dataset && el.dataset.testid) s += '[data-testid=' + el.dataset.testid + ']';
  else if (el.id) s += '#' + el.id;
  else if (el.classList && el.classList.length) s += '.' + [...el.classList].slice(0, 2).join('.');
  const role = el.getAttribute && el.getAttribute('role');
  if (role) s += '[role=' + role + ']';
  const name = (el.getAttribute('aria-label') || el.value || el.placeholder || el.textContent || '').trim().replace(/\s+/g, ' ').slice(0, 40);
  if (name) s += ' "' + name + '"';
  return s;
};
A.opacity = (el) => { let o = 1; for (let e = el; e && e.nodeType === 1; e = e.parentElement) o *= Number(getComputedStyle(e).opacity); return o; };
A.modal = () => document.querySelector('dialog[open]');
A.scope = () => A.modal() || document.body;
A.shown = (el) => {
  if (!el || !el.isConnected || el.closest('[inert], [hidden]')) return false;
  const r = el.getBoundingClientRect();
  if (r.width <= 1 || r.height <= 1) return false;
  const cs = getComputedStyle(el);
  return cs.visibility === 'visible' && cs.display !== 'none';
};
A.inView = (el) => { const r = el.getBoundingClientRect(); return r.bottom > 0 && r.right > 0 && r.top < innerHeight && r.left < innerWidth; };
// The background layers behind el, innermost first, down to the first opaque one.
A.layers = (el) => {
  const out = [];
  for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
    const c = getComputedStyle(e).backgroundColor;
    out.push(c);
    if (/^rgb\(/.test(c) || /^color\(srgb [^/]*\)$/.test(c)) return out;
  }
  out.push('rgb(255, 255, 255)');
  return out;
};
// The element that shows an invisible control's state (a radio hidden in its label).
A.face = (el) => {
  if (el.classList.contains('composer-input')) return el.closest('.composer');
  return (A.opacity(el) < 0.05 || el.getBoundingClientRect().width < 4) && el.closest('label') ? el.closest('label') : el;
};
A.pictographic = /^[\p{Extended_Pictographic}\u{FE0F}\u{200D}\s]+$/u;
A.markText = async () => {
  await A.frames();
  document.querySelectorAll('[data-a11y-c]').forEach((e) => e.removeAttribute('data-a11y-c'));
  const out = [];
  for (const el of A.scope().querySelectorAll('*')) {
    if (['SCRIPT', 'STYLE', 'OPTION', 'TITLE', 'NOSCRIPT'].includes(el.tagName) || el instanceof SVGElement) continue;
    let text = '';
    let placeholder = false;
    if ((el.tagName === 'INPUT' && !['radio', 'checkbox', 'file', 'hidden'].includes(el.type)) || el.tagName === 'TEXTAREA') {
      if (el.value) text = el.value; else if (el.placeholder) { text = el.placeholder; placeholder = true; }
    } else if (el.tagName === 'SELECT') {
      text = el.selectedOptions[0] ? el.selectedOptions[0].textContent : '';
    } else {
      for (const n of el.childNodes) if (n.nodeType === 3) text += n.textContent;
    }
    text = text.trim();
    if (!text || A.pictographic.test(text)) continue;
    if (!A.shown(el) || !A.inView(el) || A.opacity(el) < 0.05) continue;
    // Inactive controls are exempt from the contrast minimum.
    if (el.closest(':disabled, [aria-disabled=true]')) continue;
    const cs = getComputedStyle(el);
    el.setAttribute('data-a11y-c', String(out.length));
    out.push({ fg: placeholder ? getComputedStyle(el, '::placeholder').color : cs.color, op: A.opacity(el), size: parseFloat(cs.fontSize), weight: Number(cs.fontWeight) || 400,
      text: text.slice(0, 40), desc: A.desc(el), layers: A.layers(el) });
  }
  return out;
};
// Borders that identify a control (text fields, selects, the composer) and switch tracks.
A.controls = () => [...A.scope().querySelectorAll('input:not([type=radio]):not([type=checkbox]):not([type=file]):not([type=hidden]):not(.composer-input), select, textarea:not(.composer-input), .composer, input[role=switch]')]
  .filter((el) => A.shown(el) && A.inView(el) && !el.closest(':disabled'))
  .map((el) => {
    const cs = getComputedStyle(el);
    const sw = el.getAttribute('role') === 'switch';
    return { desc: A.desc(el), color: sw ? cs.backgroundColor : cs.borderTopColor, width: sw ? 20 : parseFloat(cs.borderTopWidth),
      inner: sw ? [] : A.layers(el), outer: A.layers(el.parentElement) };
  });
// What identifies a Tab stop across re-renders (live updates rebuild room
// items, members and messages while the walk goes on).
A.ident = (el) => {
  const msg = el.closest('.msg[data-id]');
  if (msg === el) return 'message:' + el.dataset.id;
  const base = el.dataset.focusKey || (el.dataset.testid ? el.dataset.testid + ':' + (el.dataset.roomId || el.dataset.userId || el.dataset.emoji || '') : '') ||
    A.desc(el) + (el.getAttribute('href') ? '->' + el.getAttribute('href') : '');
  return (msg ? 'm' + msg.dataset.id + '/' : '') + base + (el.type === 'radio' ? ':' + el.name : '');
};
A.stopSel = 'a[href], button, input:not([type=hidden]), select, textarea, [tabindex], summary';
A.refocus = (k) => { for (const el of A.scope().querySelectorAll(A.stopSel)) if (A.ident(el) === A.stops[k]) { el.focus(); return true; } return false; };
A.tabbables = () => {
  const out = [];
  A.stops = [];
  const groups = new Set();
  for (const el of A.scope().querySelectorAll(A.stopSel)) {
    if (el.tabIndex < 0 || el.disabled || !A.shown(A.face(el))) continue;
    let pick = el;
    if (el.type === 'radio') {
      if (groups.has(el.name)) continue;
      groups.add(el.name);
      const group = [...A.scope().querySelectorAll('input[type=radio]')].filter((r) => r.name === el.name);
      pick = group.find((r) => r.checked) || group[0];
    }
    A.stops.push(A.ident(pick));
    out.push({ desc: A.desc(pick), sig: A.sig(pick) });
  }
  return out;
};
A.sig = (el) => el.tagName + '|' + (el.getAttribute('class') || '') + '|' + (el.dataset.testid || '') + '|' + (el.getAttribute('role') || '');
// What the focused element looks like now.
A.frames = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
A.step = async () => {
  await A.frames();
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement) return { k: -1, body: true, desc: '<body>' };
  const face = A.face(el);
  const cs = getComputedStyle(el);
  let ring = null;
  let host = face;
  if (cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) >= 1) {
    ring = { color: cs.outlineColor, width: parseFloat(cs.outlineWidth), bg: parseFloat(cs.outlineOffset) < 0 ? A.layers(el) : A.layers(el.parentElement) };
  } else if (face !== el || el.closest('.composer, label')) {
    host = el.closest('.composer') || (face !== el ? face : el.closest('label'));
    const hs = getComputedStyle(host);
    if (hs.outlineStyle !== 'none' && parseFloat(hs.outlineWidth) >= 1) ring = { color: hs.outlineColor, width: parseFloat(hs.outlineWidth), bg: A.layers(host.parentElement) };
    else ring = { color: hs.borderTopColor, width: parseFloat(hs.borderTopWidth) + (hs.boxShadow !== 'none' ? 1 : 0), bg: A.layers(host.parentElement) };
  }
  // The indicator's element is what the screenshots frame.
  const r = host.getBoundingClientRect();
  // Not hidden behind other content (a sticky bar, a toast, an overlay).
  let covered = true;
  for (const [fx, fy] of [[0.5, 0.5], [0.25, 0.25], [0.75, 0.75], [0.25, 0.75], [0.75, 0.25]]) {
    const x = r.left + r.width * fx;
    const y = r.top + r.height * fy;
    if (x < 0 || y < 0 || x >= innerWidth || y >= innerHeight) continue;
    const hit = document.elementFromPoint(x, y);
    if (hit && (host.contains(hit) || hit.contains(host) || el.contains(hit))) { covered = false; break; }
  }
  const arrow = !!el.dataset.a11yK;
  const k = arrow ? Number(el.dataset.a11yK) : (A.stops || []).indexOf(A.ident(el));
  return { k, arrow, desc: A.desc(el), sig: A.sig(el), shown: A.shown(host) && A.opacity(host) > 0.05, covered, ring,
    rect: { x: r.left + scrollX, y: r.top + scrollY, w: r.width, h: r.height } };
};
// Live-region insertions: nodes added inside a live region that is not busy.
A.liveRegion = (el) => el && el.closest('[aria-live]:not([aria-live=off]), [role=log], [role=status], [role=alert], [role=marquee], [role=timer]');
A.live = { n: 0, log: [] };
new MutationObserver((recs) => {
  for (const r of recs) {
    const target = r.target.nodeType === 1 ? r.target : r.target.parentElement;
    const region = A.liveRegion(target);
    if (!region || region.closest('[aria-busy=true]')) continue;
    for (const n of r.addedNodes) {
      if (n.nodeType === 3 && !n.textContent.trim()) continue;
      A.live.n++;
      A.live.log.push(A.desc(region) + ' += ' + (n.textContent || '').trim().slice(0, 80));
    }
  }
}).observe(document.documentElement, { childList: true, subtree: true });
A.resetLive = () => { A.live = { n: 0, log: [] }; return true; };
// Long tasks (PerformanceObserver), and the longest gap between two turns
// of a message-channel ping, which bounds the longest task below 50 ms too.
A.lt = [];
new PerformanceObserver((l) => { for (const e of l.getEntries()) A.lt.push(e.duration); }).observe({ type: 'longtask' });
A.probe = null;
A.startProbe = () => {
  const ch = new MessageChannel();
  const p = { max: 0, last: performance.now(), on: true };
  ch.port1.onmessage = () => { const t = performance.now(); p.max = Math.max(p.max, t - p.last); p.last = t; if (p.on) ch.port2.postMessage(0); };
  ch.port2.postMessage(0);
  A.probe = p;
  A.lt = [];
  return true;
};
A.stopProbe = () => { A.probe.on = false; return { longTasks: A.lt.length, longest: A.lt.length ? Math.max(...A.lt) : 0, gap: A.probe.max }; };
// Content that does not fit 320 CSS px (data tables may scroll).
A.reflow = () => {
  const vw = document.documentElement.clientWidth;
  const bad = [];
  const over = new Set();
  if (document.documentElement.scrollWidth > vw + 1) bad.push('the page is ' + document.documentElement.scrollWidth + 'px wide');
  for (const el of document.body.querySelectorAll('*')) {
    if (el.closest('.table-wrap') || el instanceof SVGElement || !A.shown(el)) continue;
    const cs = getComputedStyle(el);
    const r = el.getBoundingClientRect();
    if (r.right > vw + 1 || r.left < -1) {
      over.add(el);
      if (!over.has(el.parentElement)) bad.push(A.desc(el) + ' spans ' + Math.round(r.left) + '–' + Math.round(r.right) + 'px');
    }
    if ((cs.overflowX === 'auto' || cs.overflowX === 'scroll') && el.scrollWidth > el.clientWidth + 1 && el.tagName !== 'TEXTAREA') bad.push(A.desc(el) + ' scrolls sideways (' + el.scrollWidth + 'px in ' + el.clientWidth + 'px)');
  }
  return bad.slice(0, 12);
};
// Messages: the text of the parts that name each article, in order.
A.messages = () => [...document.querySelectorAll('.msg[data-id]')].filter((m) => A.inView(m)).slice(-12).map((m) => {
  const ids = (m.getAttribute('aria-labelledby') || '').split(' ');
  return { desc: A.desc(m), parts: ids.map((id) => (document.getElementById(id) || { textContent: '' }).textContent.trim().replace(/\s+/g, ' ')) };
});
window.__a11y = A;
return A;
})()`

// a11yEval runs js with the helpers in scope as A.
func a11yEval[T any](p *tab, js string) T {
	p.t.Helper()
	return eval[T](p, "((A) => "+js+")("+a11yJS+")")
}

// audit collects the failures of one screen; each names the element.
type audit struct {
	p      *tab
	screen string
	n      int
}

func (p *tab) audit(screen string) *audit { return &audit{p: p, screen: screen} }

func (a *audit) fail(format string, args ...any) {
	a.p.t.Helper()
	a.n++
	a.p.t.Errorf("[%s] %s", a.screen, fmt.Sprintf(format, args...))
}

// ---- colours ---------------------------------------------------------------

type rgba struct{ r, g, b, a float64 }

var (
	rgbRE   = regexp.MustCompile(`^rgba?\(\s*([\d.]+)[\s,]+([\d.]+)[\s,]+([\d.]+)(?:\s*[,/]\s*([\d.]+%?))?\s*\)$`)
	srgbRE  = regexp.MustCompile(`^color\(srgb\s+([-\d.e]+)\s+([-\d.e]+)\s+([-\d.e]+)(?:\s*/\s*([\d.]+%?))?\s*\)$`)
	numRest = func(s string) float64 {
		if s == "" {
			return 1
		}
		if strings.HasSuffix(s, "%") {
			v, _ := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
			return v / 100
		}
		v, _ := strconv.ParseFloat(s, 64)
		return v
	}
)

// parseColor reads the colour strings Chromium computes.
func parseColor(s string) (rgba, bool) {
	s = strings.TrimSpace(s)
	if m := rgbRE.FindStringSubmatch(s); m != nil {
		f := func(x string) float64 { v, _ := strconv.ParseFloat(x, 64); return v }
		return rgba{f(m[1]), f(m[2]), f(m[3]), numRest(m[4])}, true
	}
	if m := srgbRE.FindStringSubmatch(s); m != nil {
		f := func(x string) float64 { v, _ := strconv.ParseFloat(x, 64); return math.Max(0, math.Min(255, v*255)) }
		return rgba{f(m[1]), f(m[2]), f(m[3]), numRest(m[4])}, true
	}
	if s == "transparent" {
		return rgba{}, true
	}
	return rgba{}, false
}

// over composites c (with extra opacity op) over an opaque bg.
func over(c rgba, op float64, bg rgba) rgba {
	a := c.a * op
	return rgba{c.r*a + bg.r*(1-a), c.g*a + bg.g*(1-a), c.b*a + bg.b*(1-a), 1}
}

// flatten composites background layers (innermost first) into one colour.
func flatten(layers []string) rgba {
	out := rgba{255, 255, 255, 1}
	for i := len(layers) - 1; i >= 0; i-- {
		if c, ok := parseColor(layers[i]); ok {
			out = over(c, 1, out)
		}
	}
	return out
}

// contrastRatio is WCAG 2's (L1 + 0.05) / (L2 + 0.05).
func contrastRatio(a, b rgba) float64 {
	lum := func(c rgba) float64 {
		ch := func(v float64) float64 {
			v /= 255
			if v <= 0.04045 {
				return v / 12.92
			}
			return math.Pow((v+0.055)/1.055, 2.4)
		}
		return 0.2126*ch(c.r) + 0.7152*ch(c.g) + 0.0722*ch(c.b)
	}
	l1, l2 := lum(a), lum(b)
	if l1 < l2 {
		l1, l2 = l2, l1
	}
	return (l1 + 0.05) / (l2 + 0.05)
}

// ---- browser plumbing --------------------------------------------------------

func (p *tab) call(what string, f func(ctx context.Context) error) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	if err := f(ctx); err != nil {
		p.fail("%s: %v", what, err)
	}
}

var keyDefs = map[string]struct {
	code string
	vk   int64
	text string
}{
	"Tab": {"Tab", 9, ""}, "Enter": {"Enter", 13, "\r"}, "Escape": {"Escape", 27, ""}, " ": {"Space", 32, " "},
	"ArrowUp": {"ArrowUp", 38, ""}, "ArrowDown": {"ArrowDown", 40, ""}, "ArrowLeft": {"ArrowLeft", 37, ""}, "ArrowRight": {"ArrowRight", 39, ""},
	"Home": {"Home", 36, ""}, "End": {"End", 35, ""},
}

// press sends one key as a user would (Enter and Space with their
// character, so buttons activate); shift holds Shift.
func (p *tab) press(key string, shift ...bool) {
	p.t.Helper()
	d, ok := keyDefs[key]
	if !ok {
		p.t.Fatalf("press: unknown key %q", key)
	}
	var mods int64
	if len(shift) > 0 && shift[0] {
		mods = 8 // Shift
	}
	p.call("press "+key, func(ctx context.Context) error {
		down := input.DispatchKeyEventParams{Type: input.DispatchKeyEventTypeRawKeyDown, Key: key, Code: d.code, WindowsVirtualKeyCode: d.vk, NativeVirtualKeyCode: d.vk, Modifiers: mods}
		if d.text != "" {
			down.Type = input.DispatchKeyEventTypeKeyDown
			down.Text = d.text
			down.UnmodifiedText = d.text
		}
		if _, err := chromedp.Call(ctx, input.DispatchKeyEvent, down); err != nil {
			return err
		}
		up := input.DispatchKeyEventParams{Type: input.DispatchKeyEventTypeKeyUp, Key: key, Code: d.code, WindowsVirtualKeyCode: d.vk, NativeVirtualKeyCode: d.vk, Modifiers: mods}
		_, err := chromedp.Call(ctx, input.DispatchKeyEvent, up)
		return err
	})
}

// focusOn focuses an element by script (the starting point of a key walk).
func (p *tab) focusOn(selector string) {
	p.t.Helper()
	p.wait(selector, fmt.Sprintf(`!!document.querySelector(%q)`, selector))
	eval[chromedp.Void](p, fmt.Sprintf(`document.querySelector(%q).focus()`, selector))
}

// expectFocus checks that the focused element matches selector.
func (a *audit) expectFocus(what, selector string) {
	a.p.t.Helper()
	a.expectFocusJS(what, selector, fmt.Sprintf(`!!document.activeElement && document.activeElement.matches(%q)`, selector))
}

// expectFocusJS checks that the focus satisfies js (described as want).
func (a *audit) expectFocusJS(what, want, js string) {
	a.p.t.Helper()
	selector := want
	deadline := time.Now().Add(2 * time.Second)
	for {
		ok := eval[bool](a.p, js)
		if ok {
			return
		}
		if time.Now().After(deadline) {
			a.fail("%s: the focus is on %s, want %s", what, a11yEval[string](a.p, `A.desc(document.activeElement)`), selector)
			return
		}
		time.Sleep(40 * time.Millisecond) // polling the page, with a deadline
	}
}

// setDark switches the emulated colour scheme; the app's "system" theme
// follows. Reduced motion is on throughout, so colours and rings are
// measured at their end state rather than halfway through a transition.
func (p *tab) setDark(dark bool) {
	p.t.Helper()
	v := "light"
	if dark {
		v = "dark"
	}
	p.call("emulate "+v, func(ctx context.Context) error {
		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: v}, {Name: "prefers-reduced-motion", Value: "reduce"}},
		})
		return err
	})
	if eval[bool](p, `!!document.documentElement.dataset.themePref`) {
		// The computed styles catch up with the emulated media a frame or
		// more after the attribute: wait for the page's own background.
		bg := map[string]string{"light": "rgb(255, 255, 255)", "dark": "rgb(23, 24, 28)"}[v]
		p.wait("the "+v+" theme", fmt.Sprintf(`document.documentElement.dataset.theme === %q && getComputedStyle(document.body).backgroundColor === %q`, v, bg))
	}
}

func (p *tab) clip(r rect) []byte {
	p.t.Helper()
	vw := eval[float64](p, `innerWidth`)
	vh := eval[float64](p, `innerHeight`)
	const pad = 5
	x0, y0 := math.Max(0, r.X-pad), math.Max(0, r.Y-pad)
	x1, y1 := math.Min(vw, r.X+r.W+pad), math.Min(vh, r.Y+r.H+pad)
	if x1-x0 < 2 || y1-y0 < 2 {
		return nil
	}
	var buf []byte
	p.call("screenshot", func(ctx context.Context) error {
		res, err := chromedp.Call(ctx, page.CaptureScreenshot, page.CaptureScreenshotParams{
			Format: page.CaptureScreenshotFormatPng,
			Clip:   &page.Viewport{X: x0, Y: y0, Width: x1 - x0, Height: y1 - y0, Scale: 1},
		})
		buf = res.Data
		return err
	})
	return buf
}

// changedPixels counts the pixels that differ clearly between two shots.
func changedPixels(a, b []byte) int {
	ia, err1 := png.Decode(bytes.NewReader(a))
	ib, err2 := png.Decode(bytes.NewReader(b))
	if err1 != nil || err2 != nil || ia.Bounds() != ib.Bounds() {
		return -1
	}
	n := 0
	bounds := ia.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			r1, g1, b1, _ := ia.At(x, y).RGBA()
			r2, g2, b2, _ := ib.At(x, y).RGBA()
			d := absDiff(r1, r2) + absDiff(g1, g2) + absDiff(b1, b2)
			if d > 60*257 {
				n++
			}
		}
	}
	return n
}

func absDiff(a, b uint32) uint32 {
	if a > b {
		return a - b
	}
	return b - a
}

// ---- the checks ----------------------------------------------------------------

type textSample struct {
	Fg     string   `json:"fg"`
	Op     float64  `json:"op"`
	Size   float64  `json:"size"`
	Weight float64  `json:"weight"`
	Text   string   `json:"text"`
	Desc   string   `json:"desc"`
	Layers []string `json:"layers"`
}

// contrast checks every visible text against the background Chromium
// resolves behind it, and the borders that identify controls.
func (a *audit) contrast() {
	p := a.p
	p.t.Helper()
	samples := a11yEval[[]textSample](p, `A.markText()`)
	var root cdp.NodeID
	p.call("the document", func(ctx context.Context) error {
		doc, err := chromedp.Call(ctx, dom.GetDocument, dom.GetDocumentParams{Depth: ptrInt(0)})
		if err != nil {
			return err
		}
		root = doc.Root.NodeID
		_, err = chromedp.Call(ctx, css.Enable, cdp.Empty{})
		return err
	})
	page := flatten(a11yEval[[]string](p, `A.layers(document.body)`))
	checked := 0
	for i, s := range samples {
		// One lookup per element: what re-rendered since it was marked is
		// skipped rather than matched to the wrong node.
		var bgs []string
		var gone bool
		p.call("background of "+s.Desc, func(ctx context.Context) error {
			q, err := chromedp.Call(ctx, dom.QuerySelector, dom.QuerySelectorParams{NodeID: root, Selector: fmt.Sprintf(`[data-a11y-c="%d"]`, i)})
			if err != nil || q.NodeID == 0 {
				gone = true
				return nil
			}
			res, err := chromedp.Call(ctx, css.GetBackgroundColors, css.GetBackgroundColorsParams{NodeID: q.NodeID})
			if err != nil && strings.Contains(err.Error(), "Could not find node") {
				gone = true
				return nil
			}
			bgs = res.BackgroundColors
			return err
		})
		if gone {
			continue
		}
		var backs []rgba
		for _, c := range bgs {
			if bc, ok := parseColor(c); ok {
				backs = append(backs, over(bc, 1, page))
			}
		}
		if len(backs) == 0 {
			// Chromium gives no single answer (an image, a backdrop):
			// the computed background layers stand in.
			backs = []rgba{flatten(s.Layers)}
		}
		fg, ok := parseColor(s.Fg)
		if !ok {
			a.fail("contrast: cannot read the colour %q of %s", s.Fg, s.Desc)
			continue
		}
		large := s.Size >= 24 || (s.Size >= 18.66 && s.Weight >= 700)
		need := 4.5
		if large {
			need = 3
		}
		worst := math.Inf(1)
		var worstBg rgba
		for _, bg := range backs {
			if r := contrastRatio(over(fg, s.Op, bg), bg); r < worst {
				worst, worstBg = r, bg
			}
		}
		checked++
		if worst < need-0.005 {
			a.fail("contrast %.2f:1 < %.1f:1 for %q in %s (%s on rgb(%.0f,%.0f,%.0f), %.1fpx/%.0f)", worst, need, s.Text, s.Desc, s.Fg, worstBg.r, worstBg.g, worstBg.b, s.Size, s.Weight)
		}
	}
	type control struct {
		Desc  string   `json:"desc"`
		Color string   `json:"color"`
		Width float64  `json:"width"`
		Inner []string `json:"inner"`
		Outer []string `json:"outer"`
	}
	for _, c := range a11yEval[[]control](p, `A.controls()`) {
		col, ok := parseColor(c.Color)
		if !ok || c.Width < 1 {
			a.fail("%s has no visible boundary (%q, %.1fpx)", c.Desc, c.Color, c.Width)
			continue
		}
		outer := flatten(c.Outer)
		r := contrastRatio(over(col, 1, outer), outer)
		if len(c.Inner) > 0 {
			inner := flatten(c.Inner)
			r = math.Min(r, contrastRatio(over(col, 1, inner), inner))
		}
		checked++
		if r < 3-0.005 {
			a.fail("non-text contrast %.2f:1 < 3:1 for the boundary of %s (%s)", r, c.Desc, c.Color)
		}
	}
	if checked == 0 {
		a.fail("contrast: nothing to check (the screen did not render?)")
	}
}

func ptrInt(v int64) *int64 { return &v }

type axNode = accessibility.Node

func axStr(v *accessibility.Value) string {
	if v == nil || len(v.Value) == 0 {
		return ""
	}
	var s string
	if err := json.Unmarshal(v.Value, &s); err == nil {
		return s
	}
	return strings.Trim(string(v.Value), `"`)
}

func axProp(n *axNode, name accessibility.PropertyName) (string, bool) {
	for _, pr := range n.Properties {
		if pr.Name == name {
			return axStr(pr.Value), true
		}
	}
	return "", false
}

// axWant says what a screen must have besides names and states.
type axWant struct {
	app      bool // the signed-in shell: banner, navigation, search, main
	dialog   bool // a modal dialog is open
	messages bool // message articles to check the names of
}

var interactiveRoles = map[string]bool{
	"button": true, "link": true, "textbox": true, "searchbox": true, "combobox": true, "checkbox": true, "switch": true,
	"radio": true, "menuitem": true, "menuitemcheckbox": true, "menuitemradio": true, "option": true, "tab": true,
	"slider": true, "spinbutton": true, "listbox": true, "PopUpButton": true,
}
var namedRoles = map[string]bool{"dialog": true, "alertdialog": true, "menu": true, "feed": true, "article": true, "image": true, "img": true, "navigation": true, "complementary": true, "log": true, "table": true, "toolbar": true, "group": false}

// axTree checks Chromium's accessibility tree of the screen.
func (a *audit) axTree(want axWant) {
	p := a.p
	p.t.Helper()
	var nodes []*axNode
	p.call("getFullAXTree", func(ctx context.Context) error {
		res, err := chromedp.Call(ctx, accessibility.GetFullAXTree, accessibility.GetFullAXTreeParams{})
		nodes = res.Nodes
		return err
	})
	if len(nodes) == 0 {
		a.fail("empty accessibility tree")
		return
	}
	byID := map[accessibility.NodeID]*axNode{}
	for _, n := range nodes {
		byID[n.NodeID] = n
	}
	describe := func(n *axNode) string {
		s := fmt.Sprintf("%s %q", axStr(n.Role), axStr(n.Name))
		if n.BackendDOMNodeID == 0 {
			return s
		}
		var attrs []string
		var tag string
		ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
		defer cancel()
		if res, err := chromedp.Call(ctx, dom.DescribeNode, dom.DescribeNodeParams{BackendNodeID: n.BackendDOMNodeID}); err == nil && res.Node != nil {
			tag, attrs = res.Node.LocalName, res.Node.Attributes
		}
		for i := 0; i+1 < len(attrs); i += 2 {
			if attrs[i] == "data-testid" || attrs[i] == "class" || attrs[i] == "id" {
				tag += fmt.Sprintf("[%s=%s]", attrs[i], attrs[i+1])
				break
			}
		}
		return tag + " " + s
	}
	var headings []int
	var headingNodes []*axNode
	counts := map[string]int{}
	var visit func(id accessibility.NodeID, depth int)
	visit = func(id accessibility.NodeID, depth int) {
		n := byID[id]
		if n == nil || depth > 400 {
			return
		}
		if !n.Ignored {
			role, name := axStr(n.Role), strings.TrimSpace(axStr(n.Name))
			counts[role]++
			if (interactiveRoles[role] || namedRoles[role]) && name == "" {
				a.fail("%s has no accessible name", describe(n))
			}
			if interactiveRoles[role] && role != "option" {
				if f, _ := axProp(n, accessibility.PropertyNameFocusable); f != "true" {
					if d, _ := axProp(n, accessibility.PropertyNameDisabled); d != "true" {
						a.fail("%s is interactive but not focusable", describe(n))
					}
				}
			}
			if hp, ok := axProp(n, accessibility.PropertyNameHasPopup); ok && hp != "false" && (role == "button" || role == "combobox") {
				if _, ok := axProp(n, accessibility.PropertyNameExpanded); !ok {
					a.fail("%s opens a popup (%s) but has no aria-expanded", describe(n), hp)
				}
			}
			if inv, _ := axProp(n, accessibility.PropertyNameInvalid); inv == "true" && strings.TrimSpace(axStr(n.Description)) == "" {
				a.fail("%s is invalid but no error describes it", describe(n))
			}
			if role == "listbox" {
				opts := 0
				for _, c := range n.ChildIDs {
					if cn := byID[c]; cn != nil && axStr(cn.Role) == "option" {
						opts++
					}
				}
				if opts == 0 {
					a.fail("%s is a listbox with no options", describe(n))
				}
			}
			if role == "heading" {
				lv, _ := axProp(n, accessibility.PropertyNameLevel)
				l, _ := strconv.Atoi(lv)
				headings = append(headings, l)
				headingNodes = append(headingNodes, n)
			}
		}
		for _, c := range n.ChildIDs {
			visit(c, depth+1)
		}
	}
	visit(nodes[0].NodeID, 0)
	h1 := 0
	for i, l := range headings {
		if l == 1 {
			h1++
		}
		if i > 0 && l > headings[i-1]+1 {
			a.fail("heading levels jump from h%d to h%d at %s", headings[i-1], l, describe(headingNodes[i]))
		}
	}
	if !want.dialog && h1 != 1 {
		a.fail("%d level-1 headings, want 1", h1)
	}
	if want.dialog && counts["dialog"]+counts["alertdialog"] == 0 {
		a.fail("no dialog in the accessibility tree")
	}
	if counts["main"] != 1 && !want.dialog {
		a.fail("%d main landmarks, want 1", counts["main"])
	}
	if want.app && !want.dialog {
		if counts["banner"] != 1 {
			a.fail("%d banner landmarks, want 1", counts["banner"])
		}
		if counts["navigation"] < 1 || counts["search"] < 1 {
			a.fail("navigation %d, search %d landmarks: the shell should have both", counts["navigation"], counts["search"])
		}
	}
	if want.messages {
		a.messageNames(nodes)
	}
}

// messageNames checks that messages are named author, text, time, reactions.
func (a *audit) messageNames(nodes []*axNode) {
	type msg struct {
		Desc  string   `json:"desc"`
		Parts []string `json:"parts"`
	}
	msgs := a11yEval[[]msg](a.p, `A.messages()`)
	names := map[string]bool{}
	for _, n := range nodes {
		if !n.Ignored && axStr(n.Role) == "article" {
			names[strings.Join(strings.Fields(axStr(n.Name)), " ")] = true
		}
	}
	if len(msgs) == 0 {
		a.fail("no messages to check")
	}
	for _, m := range msgs {
		if len(m.Parts) < 3 || m.Parts[0] == "" || m.Parts[2] == "" {
			a.fail("message %s is not named by author, text and time: %q", m.Desc, m.Parts)
			continue
		}
		want := strings.Join(strings.Fields(strings.Join(m.Parts, " ")), " ")
		if !names[want] {
			a.fail("no article named %q (author, text, time, reactions) for %s", want, m.Desc)
		}
	}
}

type rect struct{ X, Y, W, H float64 }

type stepInfo struct {
	K       int    `json:"k"`
	Arrow   bool   `json:"arrow"` // an arrow-key item (marked data-a11y-k), not a Tab stop
	Body    bool   `json:"body"`
	Desc    string `json:"desc"`
	Sig     string `json:"sig"`
	Shown   bool   `json:"shown"`
	Covered bool   `json:"covered"`
	Ring    *struct {
		Color string   `json:"color"`
		Width float64  `json:"width"`
		Bg    []string `json:"bg"`
	} `json:"ring"`
	Rect rect `json:"rect"`
}

type tabStop struct {
	Desc string `json:"desc"`
	Sig  string `json:"sig"`
}

// walkOpts: backward walks with Shift+Tab; from focuses a selector first.
type walkOpts struct {
	backward bool
	from     string
	looks    map[string]bool // signatures whose focus look was already compared
}

// keyboardWalk presses Tab (or Shift+Tab) until every Tab stop of the
// screen has had the focus, checking at each: it is one of the screen's
// Tab stops, visible, not covered, with a ring of ≥ 3:1, and that focusing
// it changes how it looks (screenshots before and after, once per kind of
// element). It returns the order and fails on stops never reached or an
// order that is not the document's.
func (a *audit) keyboardWalk(o walkOpts) []int {
	p := a.p
	p.t.Helper()
	stops := a11yEval[[]tabStop](p, `A.tabbables()`)
	if len(stops) == 0 {
		a.fail("no Tab stops")
		return nil
	}
	if o.from != "" {
		p.focusOn(o.from)
	}
	seen := map[int]bool{}
	var order []int
	outside := 0
	for step := 0; step < 2*len(stops)+6 && (len(seen) < len(stops) || len(order) == 0); step++ {
		p.press("Tab", o.backward)
		st := a11yEval[stepInfo](p, `A.step()`)
		if st.K < 0 {
			if st.Body {
				outside++ // past the last stop the focus leaves the page, then comes back
				if outside > 3 {
					a.fail("the focus is lost to <body> after %s", lastDesc(stops, order))
					break
				}
				continue
			}
			a.fail("Tab reached %s, which is not a visible Tab stop of the screen", st.Desc)
			continue
		}
		if seen[st.K] {
			if len(seen) == len(stops) {
				break
			}
			continue
		}
		seen[st.K] = true
		order = append(order, st.K)
		a.checkStop(st, o.looks)
	}
	for k, s := range stops {
		if !seen[k] {
			a.fail("Tab never reaches %s", s.Desc)
		}
	}
	// The order is the document's (rotated: the walk starts mid-page).
	if len(order) == len(stops) {
		want := make([]int, len(stops))
		for i := range want {
			want[i] = i
		}
		if o.backward {
			slices.Reverse(want)
		}
		i := slices.Index(want, order[0])
		rot := append(append([]int{}, want[i:]...), want[:i]...)
		if !slices.Equal(rot, order) {
			a.fail("the focus order is not the document order: %v", descs(stops, order))
		}
	}
	return order
}

func lastDesc(stops []tabStop, order []int) string {
	if len(order) == 0 {
		return "the start"
	}
	return stops[order[len(order)-1]].Desc
}

func descs(stops []tabStop, order []int) []string {
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, stops[k].Desc)
	}
	return out
}

func (a *audit) checkStop(st stepInfo, looks map[string]bool) {
	p := a.p
	p.t.Helper()
	if !st.Shown {
		a.fail("%s has the focus but is not visible", st.Desc)
		return
	}
	if st.Covered {
		a.fail("%s has the focus but other content covers it", st.Desc)
	}
	if st.Ring == nil {
		a.fail("%s shows no focus indicator (no outline, no ring on its host)", st.Desc)
	} else {
		col, ok := parseColor(st.Ring.Color)
		bg := flatten(st.Ring.Bg)
		if !ok || st.Ring.Width < 2-0.01 {
			a.fail("%s: focus indicator %s %.1fpx is thinner than 2px", st.Desc, st.Ring.Color, st.Ring.Width)
		} else if r := contrastRatio(over(col, 1, bg), bg); r < 3-0.005 {
			a.fail("%s: focus indicator contrast %.2f:1 < 3:1 (%s on rgb(%.0f,%.0f,%.0f))", st.Desc, r, st.Ring.Color, bg.r, bg.g, bg.b)
		}
	}
	if looks == nil || looks[st.Sig] {
		return
	}
	looks[st.Sig] = true
	after := p.clip(st.Rect)
	eval[chromedp.Void](p, `document.activeElement.blur()`)
	before := p.clip(st.Rect)
	if st.Arrow {
		eval[chromedp.Void](p, fmt.Sprintf(`document.querySelector('[data-a11y-k="%d"]').focus()`, st.K))
	} else {
		a11yEval[bool](p, fmt.Sprintf(`A.refocus(%d)`, st.K))
	}
	if after == nil || before == nil {
		return
	}
	if n := changedPixels(before, after); n < 20 {
		a.fail("%s looks the same focused and not (%d pixels differ)", st.Desc, n)
	}
}

// liveCount is the number of live-region insertions since resetLive.
func (p *tab) liveCount() (int, []string) {
	type live struct {
		N   int      `json:"n"`
		Log []string `json:"log"`
	}
	l := a11yEval[live](p, `A.live`)
	return l.N, l.Log
}

// quiet waits until cond holds and at least d has passed since start: how
// many announcements an action made can only be counted after a pause in
// which a second one would have come (the announcer batches for 300 ms).
func (p *tab) quiet(what, cond string, d time.Duration) {
	p.t.Helper()
	p.wait(what, fmt.Sprintf(`(%s) && (window.__quietFrom ??= performance.now()) && performance.now() - window.__quietFrom > %d`, cond, d.Milliseconds()))
	eval[chromedp.Void](p, `window.__quietFrom = undefined`)
}

// waitFor is wait with its own deadline.
func (p *tab) waitFor(what, js string, d time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(d)
	for {
		ctx, cancel := context.WithDeadline(p.ctx, deadline.Add(5*time.Second))
		_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](js,
			chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(time.Until(deadline))))
		cancel()
		if err == nil {
			return
		}
		if !contextLost(err) || time.Now().After(deadline) {
			p.fail("waiting for %s: %v", what, err)
		}
	}
}

// postQuiet posts a message and reports a failure instead of stopping the
// test (it runs on a goroutine of its own).
func postQuiet(c *api, roomID int64, body string) error {
	raw, _ := json.Marshal(map[string]string{"body": body})
	req, err := http.NewRequest("POST", fmt.Sprintf("%s/api/chat/rooms/%d/messages", c.base, roomID), bytes.NewReader(raw))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := (&http.Client{Timeout: 15 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("POST message: %d %s", resp.StatusCode, b)
	}
	return nil
}

// typeText types into an element the way an input method does
// (Input.insertText). The accessibility pass uses it instead of the
// SendKeys query, whose cached DOM goes stale once DOM.getDocument has been
// called for the contrast checks.
func (p *tab) typeText(selector, text string) {
	p.t.Helper()
	p.focusOn(selector)
	p.call("type", func(ctx context.Context) error {
		_, err := chromedp.Call(ctx, input.InsertText, input.InsertTextParams{Text: text})
		return err
	})
}

// sendText types a message into the composer and presses Enter.
func (p *tab) sendText(text string) {
	p.t.Helper()
	p.typeText(tid("composer"), text)
	p.do(pressEnter)
}
