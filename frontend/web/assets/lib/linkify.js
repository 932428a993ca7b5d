// Splits message text into plain text and http(s) links, so the view can
// build text nodes and <a> elements and never parse user text as HTML.

const URL_RE = /\bhttps?:\/\/[^\s<>"`]+/gi;
const TRAILING = /[.,;:!?'*]+$/;
const PAIRS = { ')': '(', ']': '[', '}': '{' };

function count(s, ch) {
  let n = 0;
  for (const c of s) if (c === ch) n++;
  return n;
}

// Drops punctuation that ends a sentence rather than the URL, and closing
// brackets the URL did not open: "(see https://x.org/a_(b))." keeps "(b)".
function trimUrl(raw) {
  let url = raw;
  for (;;) {
    const before = url;
    url = url.replace(TRAILING, '');
    const last = url.at(-1);
    if (last in PAIRS && count(url, last) > count(url, PAIRS[last])) url = url.slice(0, -1);
    if (url === before) return url;
  }
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

/**
 * Tokenises text into [{type:'text', text}] and [{type:'link', text, href}]
 * parts whose texts concatenate back to the input.
 */
export function linkify(text) {
  const parts = [];
  const s = String(text ?? '');
  let last = 0;
  for (const m of s.matchAll(URL_RE)) {
    const url = trimUrl(m[0]);
    const href = safeHref(url);
    if (!href || url.length < 'http://x'.length) continue;
    if (m.index > last) parts.push({ type: 'text', text: s.slice(last, m.index) });
    parts.push({ type: 'link', text: url, href });
    last = m.index + url.length;
  }
  if (last < s.length) parts.push({ type: 'text', text: s.slice(last) });
  return mergeText(parts);
}

function mergeText(parts) {
  const out = [];
  for (const p of parts) {
    const prev = out.at(-1);
    if (p.type === 'text' && prev?.type === 'text') prev.text += p.text;
    else out.push(p);
  }
  return out;
}
