// Keeping keyboard focus where the user left it: across re-renders, back to
// the control that opened a dialog, menu or picker, and onto the heading of
// a view the user navigated to.

/** The key a focusable element is found again by after a re-render. */
export function focusKey(el) {
  return el?.dataset?.focusKey ?? el?.dataset?.testid ?? null;
}

function byKey(root, key) {
  const k = CSS.escape(key);
  return root.querySelector(`[data-focus-key="${k}"], [data-testid="${k}"]`);
}

/**
 * Runs rebuild(), which may replace what holds the focus inside container,
 * and puts the focus back on the element with the same key (or on
 * fallback(), or the container) so it never drops to <body>.
 */
export function keepFocus(container, rebuild, fallback) {
  const active = document.activeElement;
  const inside = active && active !== document.body && container.contains(active);
  const key = inside ? focusKey(active) : null;
  const out = rebuild();
  if (inside && !active.isConnected) focusEl((key && byKey(container, key)) || fallback?.() || null);
  return out;
}

/**
 * Remembers the element that has the focus now (an overlay's opener) and
 * returns a function that gives the focus back to it — or, when it was
 * re-rendered meanwhile, to the element with its key, or to fallback().
 */
export function rememberFocus(opener = document.activeElement, fallback) {
  const key = focusKey(opener);
  return () => {
    let el = opener?.isConnected ? opener : null;
    if (!el && key) el = byKey(document, key);
    if (!el) el = fallback?.() ?? null;
    focusEl(el);
    return el;
  };
}

/** Focuses a heading (made focusable by script only) so its text is announced. */
export function focusHeading(h) {
  if (!h) return false;
  if (!h.hasAttribute('tabindex')) h.setAttribute('tabindex', '-1');
  h.focus({ preventScroll: true });
  return true;
}

// Focuses el; a heading (a view's title, re-rendered) is made focusable first.
function focusEl(el) {
  if (!el || typeof el.focus !== 'function') return;
  if (/^H[1-6]$/.test(el.tagName)) focusHeading(el);
  else el.focus({ preventScroll: true });
}

/** The focusable descendants of root, in Tab order (tabindex > 0 is not used here). */
export function tabbables(root) {
  return [...root.querySelectorAll('a[href], button, input, textarea, select, [tabindex]')].filter(
    (el) => el.tabIndex >= 0 && !el.disabled && !el.closest('[inert]') && el.getClientRects().length > 0,
  );
}

/** Keeps Tab and Shift+Tab inside root while it is open (a modal drawer, a picker). */
export function trapTab(root, e) {
  if (e.key !== 'Tab') return;
  const list = tabbables(root);
  if (list.length === 0) return;
  const first = list[0];
  const last = list[list.length - 1];
  if (e.shiftKey && (document.activeElement === first || !root.contains(document.activeElement))) {
    e.preventDefault();
    last.focus();
  } else if (!e.shiftKey && (document.activeElement === last || !root.contains(document.activeElement))) {
    e.preventDefault();
    first.focus();
  }
}
