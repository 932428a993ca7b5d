// A roving tabindex over a list of items (the messages of a room): exactly
// one item, the current one, is in the Tab order together with the controls
// inside it; every other item and its controls are reachable by the arrow
// keys only. Tab from the current item walks through its own controls (the
// author, links, reactions, the message actions) and Shift+Tab from the
// composer walks back into them, so a long history costs two or three Tab
// stops instead of five per message.
//
// Pure of the DOM's globals: it works on anything with tabIndex,
// querySelectorAll and focus, which the Node tests use.

/** Where a key moves the current item, from index i of n; null when it does not. */
export function rovingTarget(key, i, n) {
  if (n <= 0) return null;
  const cur = i == null || i < 0 ? n : i;
  switch (key) {
    case 'ArrowUp':
    case 'PageUp':
      return Math.max(0, cur - 1);
    case 'ArrowDown':
    case 'PageDown':
      return Math.min(n - 1, i == null || i < 0 ? n - 1 : cur + 1);
    case 'Home':
      return 0;
    case 'End':
      return n - 1;
    default:
      return null;
  }
}

/**
 * Tracks the current item by key (items are rebuilt when they change, so
 * the element alone would not survive a re-render). inner selects the
 * controls that follow their item in and out of the Tab order.
 */
export class RovingFocus {
  constructor(inner = 'a[href], button, input, textarea, select, [tabindex]') {
    this.inner = inner;
    this.key = null;
    this.el = null;
  }

  /** Sets the tab stops of a freshly built item: in the order only when current. */
  prepare(el, key) {
    const on = key != null && key === this.key;
    setStops(el, on, this.inner);
    if (on) this.el = el;
    return el;
  }

  /** Makes el (with key) the current item; the previous one leaves the Tab order. */
  setCurrent(el, key) {
    if (this.el === el && this.key === key) return;
    if (this.el && this.el !== el) setStops(this.el, false, this.inner);
    this.key = key;
    this.el = el;
    if (el) setStops(el, true, this.inner);
  }

  /**
   * Keeps a current item among items ([{el, key}] oldest first): when the
   * current one is gone, or follow is set (focus is elsewhere, so the Tab
   * stop tracks the newest item), the last item becomes current.
   */
  sync(items, follow) {
    if (items.length === 0) {
      this.key = null;
      this.el = null;
      return;
    }
    const last = items[items.length - 1];
    const held = this.key != null ? items.find((it) => it.key === this.key) : null;
    const pick = follow || !held ? last : held;
    if (pick.el !== this.el || pick.key !== this.key) this.setCurrent(pick.el, pick.key);
    else if (pick.el.tabIndex !== 0) setStops(pick.el, true, this.inner);
  }

  /** Handles a navigation key from the item at index i of items; returns the item moved to. */
  move(key, items, i) {
    const j = rovingTarget(key, i, items.length);
    if (j == null) return null;
    const it = items[j];
    this.setCurrent(it.el, it.key);
    it.el.focus({ preventScroll: false });
    return it;
  }
}

function setStops(el, on, inner) {
  el.tabIndex = on ? 0 : -1;
  for (const c of el.querySelectorAll(inner)) c.tabIndex = on ? 0 : -1;
}
