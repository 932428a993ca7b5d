// Message formatting: a small Markdown subset, parsed by hand into a tree
// (pure: tested in Node) and rendered into DOM nodes with createElement
// and createTextNode only — user text is never parsed as HTML.
//
// Blocks: ``` fenced code (an optional language word; unclosed, it runs to
// the end of the message), > quotes, - * + bulleted and 1. 1) numbered
// lists (nested by indenting two spaces or more), and paragraphs, which
// keep their line breaks and blank lines as written. Inline: **bold** and
// __bold__, *italic* and _italic_ (not inside words: snake_case stays),
// ~~strikethrough~~, `code`, [text](url) and bare URLs, \ escapes.
// Links go only to http, https and mailto; any other [text](url) stays
// text. Emphasis that does not pair up, or crosses another, stays literal.
// Everything runs in time linear in the input: no backtracking regular
// expressions, matching by stacks and precomputed tables, nesting capped.
//
// Tree: {type:'doc', children: blocks}. Blocks: {type:'paragraph',
// children}, {type:'code_block', lang, text}, {type:'quote', children},
// {type:'list', ordered, start, children: [{type:'item', children}]}.
// Inline: {type:'text', text}, {type:'code', text}, {type:'strong'|'em'|
// 'del', children}, {type:'link', href, children}.

import { urlAt } from './linkify.js';

/** How deep quotes and lists nest; deeper markers stay text. */
export const MAX_DEPTH = 6;
/** How many emphasis delimiters may be open at once (so how deep they nest). */
const MAX_OPEN = 16;
const NAME = /[A-Za-z0-9_.-]/;
const PUNCT = /[!-/:-@[-`{-~\p{P}\p{S}]/u;
const SPACE = /\s/;
const ESCAPABLE = /[!-/:-@[-`{-~]/;

/** Parses a message body into the tree described above. */
export function parse(src) {
  const lines = String(src ?? '').replace(/\r\n?/g, '\n').split('\n');
  return { type: 'doc', children: parseBlocks(lines, 0) };
}

// ---- blocks ----------------------------------------------------------------

function leadingSpaces(line) {
  let i = 0;
  while (i < line.length && line[i] === ' ') i++;
  return i;
}

function isBlank(line) {
  return line.trim() === '';
}

// A run of backticks only (a closing fence), at least n long.
function isFenceOnly(t, n) {
  if (t.length < n) return false;
  for (const c of t) if (c !== '`') return false;
  return true;
}

// An opening fence: {lang, first (text on the fence line, or null), n}.
// "```js" names the language; "```one line```" is a whole block; "```text"
// (more than one word) starts the block with that text, as chat apps do.
function fenceOpen(line) {
  const ind = leadingSpaces(line);
  if (ind > 3 || !line.startsWith('```', ind)) return null;
  let j = ind;
  while (line[j] === '`') j++;
  const n = j - ind;
  const rest = line.slice(j).trim();
  if (rest === '' || (/^[A-Za-z0-9_+#.-]{1,32}$/.test(rest))) return { lang: rest, first: null, n, oneLine: false };
  if (rest.endsWith('```')) {
    let k = rest.length;
    while (k > 0 && rest[k - 1] === '`') k--;
    const inner = rest.slice(0, k);
    if (inner.trim() === '') return null;
    return { lang: '', first: inner, n, oneLine: true };
  }
  if (rest.includes('`')) return null;
  return { lang: '', first: rest, n, oneLine: false };
}

// Where a code block's line closes it: a line of only backticks, or a
// line ending in ``` (the text before it is the block's last line).
function fenceClose(line, n) {
  const t = line.trim();
  if (isFenceOnly(t, Math.min(n, 3))) return { last: null };
  if (t.endsWith('```')) {
    let k = line.length;
    while (k > 0 && SPACE.test(line[k - 1])) k--;
    while (k > 0 && line[k - 1] === '`') k--;
    return { last: line.slice(0, k) };
  }
  return null;
}

function quoteLine(line) {
  const ind = leadingSpaces(line);
  if (ind > 3 || line[ind] !== '>') return null;
  let j = ind + 1;
  if (line[j] === ' ') j++;
  return line.slice(j);
}

// A list item's first line: {indent, ordered, start, contentCol, text}.
function listItem(line, maxIndent) {
  const i = leadingSpaces(line);
  if (i > maxIndent || i >= line.length) return null;
  const c = line[i];
  let j;
  let ordered = false;
  let start = 1;
  if (c === '-' || c === '*' || c === '+') {
    j = i + 1;
  } else {
    j = i;
    while (j < line.length && j - i < 9 && line[j] >= '0' && line[j] <= '9') j++;
    if (j === i || (line[j] !== '.' && line[j] !== ')')) return null;
    ordered = true;
    start = Number(line.slice(i, j));
    j++;
  }
  if (line[j] !== ' ') return null;
  let k = j;
  while (k < line.length && line[k] === ' ' && k - j < 4) k++;
  if (k >= line.length || isBlank(line.slice(k))) return null;
  return { indent: i, ordered, start, contentCol: k, text: line.slice(k) };
}

function parseBlocks(lines, depth) {
  const blocks = [];
  let para = [];
  const flush = () => {
    let a = 0;
    let b = para.length;
    while (a < b && isBlank(para[a])) a++;
    while (b > a && isBlank(para[b - 1])) b--;
    if (a < b) blocks.push({ type: 'paragraph', children: parseInline(para.slice(a, b).join('\n')) });
    para = [];
  };
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    const fence = fenceOpen(line);
    if (fence) {
      flush();
      const body = [];
      i++;
      if (fence.oneLine) {
        body.push(fence.first);
      } else {
        if (fence.first != null) body.push(fence.first);
        while (i < lines.length) {
          const end = fenceClose(lines[i], fence.n);
          i++;
          if (end) {
            if (end.last != null && end.last.trim() !== '') body.push(end.last);
            break;
          }
          body.push(lines[i - 1]);
        }
      }
      blocks.push({ type: 'code_block', lang: fence.lang, text: body.join('\n') });
      continue;
    }
    if (depth < MAX_DEPTH && quoteLine(line) != null) {
      flush();
      const inner = [];
      while (i < lines.length) {
        const q = quoteLine(lines[i]);
        if (q == null) break;
        inner.push(q);
        i++;
      }
      blocks.push({ type: 'quote', children: parseBlocks(inner, depth + 1) });
      continue;
    }
    const first = depth < MAX_DEPTH ? listItem(line, 3) : null;
    if (first) {
      flush();
      const list = { type: 'list', ordered: first.ordered, start: first.start, children: [] };
      while (i < lines.length) {
        const it = listItem(lines[i], first.indent + 1);
        if (!it || it.ordered !== first.ordered) break;
        const content = [it.text];
        i++;
        // The item's further lines: indented past its marker's column.
        while (i < lines.length && !isBlank(lines[i]) && leadingSpaces(lines[i]) >= it.indent + 2) {
          content.push(lines[i].slice(Math.min(leadingSpaces(lines[i]), it.contentCol)));
          i++;
        }
        list.children.push({ type: 'item', children: parseBlocks(content, depth + 1) });
      }
      blocks.push(list);
      continue;
    }
    para.push(line);
    i++;
  }
  flush();
  return blocks;
}

// ---- inline ----------------------------------------------------------------

// For each "(" the index of its ")" within the same run of non-space
// characters (balanced, so a Wikipedia URL keeps its parentheses), or -1.
function parenMatches(s) {
  const m = new Int32Array(s.length).fill(-1);
  const open = [];
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '(') open.push(i);
    else if (c === ')') {
      if (open.length) m[open.pop()] = i;
    } else if (SPACE.test(c)) open.length = 0;
  }
  return m;
}

// Backtick runs by length: for finding the run that closes a code span.
function backtickRuns(s) {
  const byLen = new Map();
  for (let i = 0; i < s.length;) {
    if (s[i] !== '`') {
      i++;
      continue;
    }
    let j = i;
    while (j < s.length && s[j] === '`') j++;
    const n = j - i;
    if (!byLen.has(n)) byLen.set(n, { at: [], next: 0 });
    byLen.get(n).at.push(i);
    i = j;
  }
  return byLen;
}

/** The href for a [text](url) link: http(s) with a host, or mailto; else null. */
export function linkHref(raw) {
  const s = String(raw ?? '');
  if (s.length === 0 || s.length > 2048 || !/^(https?:\/\/|mailto:)/i.test(s)) return null;
  let u;
  try {
    u = new URL(s);
  } catch {
    return null;
  }
  if ((u.protocol === 'http:' || u.protocol === 'https:') && u.hostname) return u.href;
  if (u.protocol === 'mailto:' && u.pathname.length > 0) return u.href;
  return null;
}

function isSpaceAt(s, i) {
  return i < 0 || i >= s.length || SPACE.test(s[i]);
}

function isPunctAt(s, i) {
  return i >= 0 && i < s.length && PUNCT.test(s[i]);
}

// Whether a delimiter run from i to j may open and close emphasis (the
// CommonMark flanking rules; "_" never inside a word).
function flanking(s, i, j, c) {
  const left = !isSpaceAt(s, j) && (!isPunctAt(s, j) || isSpaceAt(s, i - 1) || isPunctAt(s, i - 1));
  const right = !isSpaceAt(s, i - 1) && (!isPunctAt(s, i - 1) || isSpaceAt(s, j) || isPunctAt(s, j));
  if (c === '_') return { open: left && (!right || isPunctAt(s, i - 1)), close: right && (!left || isPunctAt(s, j)) };
  return { open: left, close: right };
}

const SPECIAL = new Set(['\\', '`', 'h', 'H', '@', '*', '_', '~', '[', ']']);
const KIND = { '*': ['em', 'strong'], _: ['em', 'strong'], '~': [null, 'del'] };

/** Parses one paragraph's text into inline nodes. */
export function parseInline(s) {
  const out = []; // inline nodes; open delimiters sit here as text nodes marked d
  const stack = []; // open emphasis delimiters: {oi, key, type}
  const counts = new Map(); // key → how many of that delimiter are open
  let brackets = []; // open "[": {oi, depth (stack length when opened)}
  let parens = null; // the tables, built on first need
  let ticks = null;

  const text = (t) => {
    if (!t) return;
    const prev = out[out.length - 1];
    if (prev && prev.type === 'text' && !prev.d) prev.text += t;
    else out.push({ type: 'text', text: t });
  };
  const popTo = (n) => {
    while (stack.length > n) {
      const d = stack.pop();
      counts.set(d.key, counts.get(d.key) - 1);
    }
    while (brackets.length && brackets[brackets.length - 1].depth > n) brackets.pop();
  };
  const wrap = (oi, node) => {
    node.children = out.slice(oi + 1);
    out.length = oi;
    out.push(node);
  };

  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (c === '\\' && i + 1 < s.length && ESCAPABLE.test(s[i + 1])) {
      text(s[i + 1]);
      i += 2;
      continue;
    }
    if (c === '`') {
      let j = i;
      while (j < s.length && s[j] === '`') j++;
      const n = j - i;
      ticks ??= backtickRuns(s);
      const runs = ticks.get(n);
      if (runs) while (runs.next < runs.at.length && runs.at[runs.next] < j) runs.next++;
      const close = runs && runs.next < runs.at.length ? runs.at[runs.next] : -1;
      if (close < 0) {
        text(s.slice(i, j));
        i = j;
        continue;
      }
      let code = s.slice(j, close).replace(/\n/g, ' ');
      if (code.length > 2 && code[0] === ' ' && code[code.length - 1] === ' ' && code.trim() !== '') code = code.slice(1, -1);
      out.push({ type: 'code', text: code });
      i = close + n;
      continue;
    }
    if (c === 'h' || c === 'H') {
      const u = urlAt(s, i);
      if (u) {
        if (u.href) out.push({ type: 'link', href: u.href, children: [{ type: 'text', text: u.text }] });
        else text(u.text);
        i = u.end;
        continue;
      }
    }
    if (c === '@' && (i === 0 || (!NAME.test(s[i - 1]) && s[i - 1] !== '@'))) {
      // A mention is one word: the underscores of @snake_name are no emphasis.
      let j = i + 1;
      while (j < s.length && NAME.test(s[j])) j++;
      text(s.slice(i, j));
      i = j;
      continue;
    }
    if (c === '*' || c === '_' || c === '~') {
      let j = i;
      while (j < s.length && s[j] === c) j++;
      const n = j - i;
      const type = n <= 2 ? KIND[c][n - 1] : null;
      if (!type) {
        text(s.slice(i, j));
        i = j;
        continue;
      }
      const key = c + n;
      const f = flanking(s, i, j, c);
      if (f.close && counts.get(key) > 0) {
        let k = stack.length - 1;
        while (stack[k].key !== key) k--;
        const oi = stack[k].oi;
        popTo(k);
        wrap(oi, { type });
      } else if (f.open && stack.length < MAX_OPEN) {
        out.push({ type: 'text', text: s.slice(i, j), d: true });
        stack.push({ oi: out.length - 1, key });
        counts.set(key, (counts.get(key) ?? 0) + 1);
      } else {
        text(s.slice(i, j));
      }
      i = j;
      continue;
    }
    if (c === '[') {
      out.push({ type: 'text', text: '[', d: true });
      brackets.push({ oi: out.length - 1, depth: stack.length });
      i++;
      continue;
    }
    if (c === ']' && brackets.length) {
      const b = brackets.pop();
      if (s[i + 1] === '(') parens ??= parenMatches(s);
      const close = s[i + 1] === '(' ? parens[i + 1] : -1;
      const href = close > 0 ? linkHref(s.slice(i + 2, close)) : null;
      if (href) {
        popTo(b.depth);
        wrap(b.oi, { type: 'link', href });
        const link = out[out.length - 1];
        link.children = unlink(link.children);
        if (link.children.length === 0) link.children = [{ type: 'text', text: s.slice(i + 2, close) }];
        brackets = []; // no links inside links
        i = close + 1;
        continue;
      }
    }
    // Plain text up to the next character that may start something.
    let j = i + 1;
    while (j < s.length && !SPECIAL.has(s[j])) j++;
    text(s.slice(i, j));
    i = j;
  }
  return normalize(out);
}

// A link's text cannot hold another link: inner ones become their text.
function unlink(nodes) {
  const res = [];
  for (const n of nodes) {
    if (n.type === 'link') res.push(...unlink(n.children));
    else if (n.children) res.push({ ...n, children: unlink(n.children) });
    else res.push(n);
  }
  return res;
}

// Unmatched delimiters become plain text; neighbouring texts are merged.
function normalize(nodes) {
  const res = [];
  for (const n of nodes) {
    if (n.type === 'text') {
      const prev = res[res.length - 1];
      if (prev && prev.type === 'text') prev.text += n.text;
      else res.push({ type: 'text', text: n.text });
    } else if (n.children) {
      res.push({ ...n, children: normalize(n.children) });
    } else {
      res.push(n);
    }
  }
  return res;
}

// ---- plain text --------------------------------------------------------------

function inlinePlain(nodes) {
  let s = '';
  for (const n of nodes) s += n.children ? inlinePlain(n.children) : n.text;
  return s;
}

function blocksPlain(blocks) {
  return blocks.map((b) => {
    if (b.type === 'paragraph') return inlinePlain(b.children);
    if (b.type === 'code_block') return b.text;
    if (b.type === 'quote') return blocksPlain(b.children);
    if (b.type === 'list') return b.children.map((it) => blocksPlain(it.children)).join('\n');
    return '';
  }).join('\n');
}

/** The text of a tree without any markers: `**x**` → x, a code block → its code. */
export function toPlain(ast) {
  if (!ast) return '';
  if (ast.type === 'doc') return blocksPlain(ast.children);
  return Array.isArray(ast) ? inlinePlain(ast) : inlinePlain([ast]);
}

/** A message body as plain text for previews (sidebar, notifications, announcements). */
export function plainText(src) {
  return toPlain(parse(src));
}

// ---- one line ------------------------------------------------------------

/**
 * A tree as one line of inline nodes, for a card (a search hit, a
 * mention): blocks run on separated by spaces, a code block becomes inline
 * code, whitespace is collapsed, and the text is cut to max characters
 * with "…".
 */
export function compact(ast, max = Infinity) {
  const flat = [];
  const addBlocks = (blocks) => {
    for (const b of blocks) {
      if (flat.length) flat.push({ type: 'text', text: ' ' });
      if (b.type === 'paragraph') flat.push(...b.children);
      else if (b.type === 'code_block') flat.push({ type: 'code', text: b.text });
      else if (b.type === 'quote') addBlocks(b.children);
      else if (b.type === 'list') for (const it of b.children) addBlocks(it.children);
    }
  };
  addBlocks(ast?.children ?? []);
  let budget = max;
  let lastSpace = true;
  let cut = false;
  const clip = (nodes) => {
    const res = [];
    for (const n of nodes) {
      if (budget <= 0) {
        cut ||= (n.children ? inlinePlain(n.children) : n.text).trim() !== '';
        if (cut) break;
        continue;
      }
      if (n.children) {
        const children = clip(n.children);
        if (children.length) res.push({ ...n, children });
        continue;
      }
      let t = n.text.replace(/\s+/g, ' ');
      if (lastSpace && n.type === 'text') t = t.replace(/^ /, '');
      if (t.length > budget) {
        t = t.slice(0, Math.max(0, budget - 1)) + '…';
        cut = true;
      }
      budget -= t.length;
      if (t === '' && n.type === 'text') continue;
      lastSpace = t.endsWith(' ');
      res.push({ ...n, text: t });
    }
    return res;
  };
  const res = normalize(clip(flat));
  let leaf = res[res.length - 1];
  while (leaf?.children) leaf = leaf.children[leaf.children.length - 1];
  if (leaf) leaf.text = leaf.text.replace(/ $/, '');
  if (cut && leaf && !leaf.text.endsWith('…')) {
    if (max - budget >= max) leaf.text = leaf.text.slice(0, -1);
    leaf.text += '…';
  }
  return res;
}

// ---- DOM ---------------------------------------------------------------------

const TAGS = { strong: 'strong', em: 'em', del: 'del' };
const SAFE_SCHEME = /^(https?:\/\/|mailto:)/i;

/**
 * Renders inline nodes into parent. o: {doc, text(s, kind) → Node|string
 * (kind 'text' or 'code'; e.g. mentions or search hits), links (false:
 * links show as their text, for rows that are links themselves)}.
 */
export function renderInline(nodes, parent, o = {}) {
  const doc = o.doc ?? globalThis.document;
  const put = (el, s, kind) => {
    const v = o.text ? o.text(s, kind) : null;
    el.appendChild(v == null ? doc.createTextNode(s) : typeof v === 'string' ? doc.createTextNode(v) : v);
  };
  for (const n of nodes) {
    if (n.type === 'text') {
      put(parent, n.text, 'text');
    } else if (n.type === 'code') {
      const code = doc.createElement('code');
      code.setAttribute('class', 'md-code');
      put(code, n.text, 'code');
      parent.appendChild(code);
    } else if (n.type === 'link') {
      let el;
      // The parser only makes links it validated; the check here keeps a
      // tree from anywhere else from putting another scheme in an href.
      if (o.links === false || !SAFE_SCHEME.test(n.href)) {
        el = doc.createElement('span');
        el.setAttribute('class', 'md-link');
      } else {
        el = doc.createElement('a');
        el.setAttribute('href', n.href);
        if (!n.href.startsWith('mailto:')) el.setAttribute('target', '_blank');
        el.setAttribute('rel', 'noopener noreferrer nofollow');
      }
      renderInline(n.children, el, o);
      parent.appendChild(el);
    } else if (TAGS[n.type]) {
      const el = doc.createElement(TAGS[n.type]);
      renderInline(n.children, el, o);
      parent.appendChild(el);
    }
  }
  return parent;
}

function renderBlocks(blocks, parent, o) {
  const doc = o.doc ?? globalThis.document;
  // One paragraph alone goes straight into its parent (a plain message
  // stays text in the body, a short item stays text in its <li>).
  if (blocks.length === 1 && blocks[0].type === 'paragraph') return renderInline(blocks[0].children, parent, o);
  for (const b of blocks) {
    let el;
    if (b.type === 'paragraph') {
      el = doc.createElement('p');
      el.setAttribute('class', 'md-p');
      renderInline(b.children, el, o);
    } else if (b.type === 'code_block') {
      el = doc.createElement('div');
      el.setAttribute('class', 'md-codeblock');
      if (b.lang) {
        const label = doc.createElement('span');
        label.setAttribute('class', 'md-lang');
        label.appendChild(doc.createTextNode(b.lang));
        el.appendChild(label);
      }
      const pre = doc.createElement('pre');
      pre.setAttribute('class', 'md-pre');
      if (b.lang) pre.setAttribute('data-lang', b.lang);
      const code = doc.createElement('code');
      code.appendChild(doc.createTextNode(b.text));
      pre.appendChild(code);
      el.appendChild(pre);
    } else if (b.type === 'quote') {
      el = doc.createElement('blockquote');
      el.setAttribute('class', 'md-quote');
      renderBlocks(b.children, el, o);
    } else if (b.type === 'list') {
      el = doc.createElement(b.ordered ? 'ol' : 'ul');
      el.setAttribute('class', 'md-list');
      if (b.ordered && b.start !== 1) el.setAttribute('start', String(b.start));
      for (const it of b.children) {
        const li = doc.createElement('li');
        renderBlocks(it.children, li, o);
        el.appendChild(li);
      }
    } else {
      continue;
    }
    parent.appendChild(el);
  }
  return parent;
}

/** Renders a tree (from parse) into a new DocumentFragment; o as in renderInline. */
export function render(ast, o = {}) {
  const doc = o.doc ?? globalThis.document;
  return renderBlocks(ast?.children ?? [], doc.createDocumentFragment(), o);
}
