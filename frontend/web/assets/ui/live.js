// The one polite live region of the app (see lib/announcer.js for what goes
// in it). It exists from the start, because a region created together with
// its first text is not announced by every screen reader.

import { h } from './dom.js';

const KEEP = 5;
let region = null;

/** Creates the region (once) in document.body. */
export function liveRegion() {
  if (!region) {
    region = h('div', { class: 'visually-hidden', role: 'log', 'aria-live': 'polite', 'aria-relevant': 'additions', 'aria-label': 'Announcements', testid: 'announcer' });
    document.body.append(region);
  }
  return region;
}

/** Announces text politely. Old lines are removed (removals are not read). */
export function say(text) {
  const r = liveRegion();
  r.append(h('p', { text }));
  while (r.childElementCount > KEEP) r.firstElementChild.remove();
}
