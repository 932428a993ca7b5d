// Bare http(s) URLs in message text, found by a hand-written scanner in
// linear time (no backtracking regular expression: a long line of
// punctuation or of almost-URLs must not stall the page). linkify splits
// text into plain text and links; lib/markdown.js uses urlAt inside its
// inline parser, so both find the same URLs.

const TRAILING = new Set(['.', ',', ';', ':', '!', '?', "'", '*', '_', '~']);
const PAIRS = { ')': '(', ']': '[', '}': '{' };
const WORD = /[A-Za-z0-9_]/;

// Characters that end a URL candidate: whitespace, quotes and angle
// brackets (so an attribute can never be smuggled through a URL) and the
// backtick.
function stops(c) {
  return c === '<' || c === '>' || c === '"' || c === '`' || /\s/.test(c);
}

/** The href for a candidate link, or null unless it is a valid http(s) URL. */
export function safeHref(raw) {
  try {
    const u = new URL(raw);
    if ((u.protocol === 'http:' || u.protocol === 'https:') && u.hostname) return u.href;
  } catch {
    // not a URL
  }
  return null;
}

// Drops punctuation that ends a sentence rather than the URL, and closing
// brackets the URL did not open: "(see https://x.org/a_(b))." keeps "(b)".
// One pass from the end with the bracket counts kept as it goes.
function trimUrl(url) {
  const open = { '(': 0, '[': 0, '{': 0 };
  const close = { ')': 0, ']': 0, '}': 0 };
  for (const c of url) {
    if (c in open) open[c]++;
    else if (c in close) close[c]++;
  }
  let end = url.length;
  while (end > 0) {
    const c = url[end - 1];
    if (TRAILING.has(c)) end--;
    else if (c in PAIRS && close[c] > open[PAIRS[c]]) {
      close[c]--;
      end--;
    } else break;
  }
  return url.slice(0, end);
}

function startsWithScheme(s, i) {
  const head = s.slice(i, i + 8).toLowerCase();
  return head.startsWith('http://') || head.startsWith('https://');
}

/**
 * The URL candidate starting at i, or null when none starts there (a
 * scheme inside a word does not count). {end} is where scanning goes on:
 * after the link when {href} is set, else after the whole candidate, which
 * stays text (so a run of almost-URLs is looked at once, not once per
 * character).
 */
export function urlAt(s, i) {
  if ((s[i] !== 'h' && s[i] !== 'H') || (i > 0 && WORD.test(s[i - 1])) || !startsWithScheme(s, i)) return null;
  let j = i;
  while (j < s.length && !stops(s[j])) j++;
  const url = trimUrl(s.slice(i, j));
  const href = url.length >= 'http://x'.length ? safeHref(url) : null;
  if (!href) return { end: j, text: s.slice(i, j), href: null };
  return { end: i + url.length, text: url, href };
}

/**
 * Tokenises text into [{type:'text', text}] and [{type:'link', text, href}]
 * parts whose texts concatenate back to the input.
 */
export function linkify(text) {
  const parts = [];
  const s = String(text ?? '');
  let plain = '';
  let i = 0;
  while (i < s.length) {
    const u = urlAt(s, i);
    if (!u) {
      plain += s[i++];
      continue;
    }
    if (u.href) {
      if (plain) parts.push({ type: 'text', text: plain });
      plain = '';
      parts.push({ type: 'link', text: u.text, href: u.href });
    } else {
      plain += u.text;
    }
    i = u.end;
  }
  if (plain) parts.push({ type: 'text', text: plain });
  return parts;
}
