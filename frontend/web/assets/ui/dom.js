// DOM building without HTML strings: every piece of text becomes a text
// node or a textContent, every attribute goes through setAttribute, so user
// data can never be parsed as markup. Nothing here uses innerHTML.

import { parse, render } from '../lib/markdown.js';

const SVG_NS = 'http://www.w3.org/2000/svg';
const URL_ATTRS = new Set(['href', 'src', 'action', 'formaction', 'xlink:href']);

/** Appends children (nodes, strings, numbers, arrays; null/false skipped). */
export function append(el, ...children) {
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false || c === true) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function setProp(el, k, v) {
  if (v == null || v === false) return;
  if (k === 'class') el.setAttribute('class', Array.isArray(v) ? v.filter(Boolean).join(' ') : v);
  else if (k === 'text') el.textContent = String(v);
  else if (k === 'testid') el.setAttribute('data-testid', v);
  else if (k === 'dataset') for (const [dk, dv] of Object.entries(v)) el.dataset[dk] = String(dv);
  else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v);
  else if (['value', 'checked', 'disabled', 'selected', 'hidden', 'multiple', 'required'].includes(k)) el[k] = v;
  else if (k === 'style' || k === 'innerHTML' || k === 'outerHTML' || k.startsWith('on')) throw new Error(`h: refusing ${k}`);
  else if (URL_ATTRS.has(k)) el.setAttribute(k, safeUrl(v));
  else el.setAttribute(k, v === true ? '' : String(v));
}

/** Creates an element: h('button', {class, onClick, testid}, 'text', child). */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  if (props) for (const [k, v] of Object.entries(props)) setProp(el, k, v);
  return append(el, children);
}

/**
 * Only http(s), same-origin paths, blob: and data:image URLs pass; anything
 * else (javascript:, vbscript:, data:text/html) becomes "#".
 */
export function safeUrl(v) {
  const s = String(v).trim();
  if (s.startsWith('/') && !s.startsWith('//')) return s;
  if (/^https?:\/\//i.test(s) || /^blob:/i.test(s) || /^data:image\/(png|jpeg|gif|webp);/i.test(s)) return s;
  if (s.startsWith('#') || s.startsWith('?')) return s;
  return '#';
}

/** Removes every child. */
export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

/** Replaces el's children. */
export function replace(el, ...children) {
  clear(el);
  return append(el, children);
}

/**
 * Message text as nodes, formatted (lib/markdown.js): elements built one
 * by one, links only to http, https and mailto, opening in a new tab
 * without handing over the opener or the referrer.
 */
export function richText(text) {
  return render(parse(text));
}

/** Text with the query's words wrapped in <mark> (search results). */
export function highlighted(text, query) {
  const words = String(query ?? '')
    .toLowerCase()
    .split(/\s+/)
    .map((w) => w.replace(/[^\p{L}\p{N}_-]/gu, ''))
    .filter((w) => w.length > 1);
  const frag = document.createDocumentFragment();
  const s = String(text ?? '');
  if (words.length === 0) {
    frag.append(document.createTextNode(s));
    return frag;
  }
  const lower = s.toLowerCase();
  let i = 0;
  while (i < s.length) {
    let best = -1;
    let len = 0;
    for (const w of words) {
      const j = lower.indexOf(w, i);
      if (j >= 0 && (best < 0 || j < best)) {
        best = j;
        len = w.length;
      }
    }
    if (best < 0) break;
    if (best > i) frag.append(document.createTextNode(s.slice(i, best)));
    const m = document.createElement('mark');
    m.textContent = s.slice(best, best + len);
    frag.append(m);
    i = best + len;
  }
  if (i < s.length) frag.append(document.createTextNode(s.slice(i)));
  return frag;
}

const ICONS = {
  hash: 'M4 9h16M4 15h16M10 3 8 21M16 3l-2 18',
  lock: 'M5 11h14a2 2 0 0 1 2 2v7a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2v-7a2 2 0 0 1 2-2zM7 11V7a5 5 0 0 1 10 0v4',
  plus: 'M12 5v14M5 12h14',
  search: 'M11 19a8 8 0 1 0 0-16 8 8 0 0 0 0 16zM21 21l-4.35-4.35',
  sliders: 'M4 21v-7M4 10V3M12 21v-9M12 8V3M20 21v-5M20 12V3M1 14h6M9 8h6M17 16h6',
  user: 'M20 21v-2a4 4 0 0 0-4-4H8a4 4 0 0 0-4 4v2M12 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8z',
  users: 'M17 21v-2a4 4 0 0 0-4-4H5a4 4 0 0 0-4 4v2M9 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM23 21v-2a4 4 0 0 0-3-3.87M16 3.13a4 4 0 0 1 0 7.75',
  shield: 'M12 22s8-4 8-10V5l-8-3-8 3v7c0 6 8 10 8 10z',
  logout: 'M9 21H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h4M16 17l5-5-5-5M21 12H9',
  menu: 'M3 12h18M3 6h18M3 18h18',
  x: 'M18 6 6 18M6 6l12 12',
  smile: 'M12 22a10 10 0 1 0 0-20 10 10 0 0 0 0 20zM8 14s1.5 2 4 2 4-2 4-2M9 9h.01M15 9h.01',
  edit: 'M17 3a2.83 2.83 0 1 1 4 4L7.5 20.5 2 22l1.5-5.5L17 3z',
  trash: 'M3 6h18M19 6v14a2 2 0 0 1-2 2H7a2 2 0 0 1-2-2V6m3 0V4a2 2 0 0 1 2-2h4a2 2 0 0 1 2 2v2',
  send: 'M22 2 11 13M22 2l-7 20-4-9-9-4 20-7z',
  message: 'M21 11.5a8.38 8.38 0 0 1-.9 3.8 8.5 8.5 0 0 1-7.6 4.7 8.38 8.38 0 0 1-3.8-.9L3 21l1.9-5.7a8.38 8.38 0 0 1-.9-3.8 8.5 8.5 0 0 1 4.7-7.6 8.38 8.38 0 0 1 3.8-.9h.5a8.48 8.48 0 0 1 8 8v.5z',
  compass: 'M12 22a10 10 0 1 0 0-20 10 10 0 0 0 0 20zM16.24 7.76l-2.12 6.36-6.36 2.12 2.12-6.36 6.36-2.12z',
  userPlus: 'M16 21v-2a4 4 0 0 0-4-4H5a4 4 0 0 0-4 4v2M8.5 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM20 8v6M23 11h-6',
  more: 'M12 13a1 1 0 1 0 0-2 1 1 0 0 0 0 2zM19 13a1 1 0 1 0 0-2 1 1 0 0 0 0 2zM5 13a1 1 0 1 0 0-2 1 1 0 0 0 0 2z',
  moon: 'M21 12.79A9 9 0 1 1 11.21 3 7 7 0 0 0 21 12.79z',
  sun: 'M12 17a5 5 0 1 0 0-10 5 5 0 0 0 0 10zM12 1v2M12 21v2M4.22 4.22l1.42 1.42M18.36 18.36l1.42 1.42M1 12h2M21 12h2M4.22 19.78l1.42-1.42M18.36 5.64l1.42-1.42',
  monitor: 'M4 3h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zM8 21h8M12 17v4',
  back: 'M19 12H5M12 19l-7-7 7-7',
  camera: 'M23 19a2 2 0 0 1-2 2H3a2 2 0 0 1-2-2V8a2 2 0 0 1 2-2h4l2-3h6l2 3h4a2 2 0 0 1 2 2zM12 17a4 4 0 1 0 0-8 4 4 0 0 0 0 8z',
  alert: 'M10.29 3.86 1.82 18a2 2 0 0 0 1.71 3h16.94a2 2 0 0 0 1.71-3L13.71 3.86a2 2 0 0 0-3.42 0zM12 9v4M12 17h.01',
  check: 'M20 6 9 17l-5-5',
  refresh: 'M23 4v6h-6M1 20v-6h6M3.51 9a9 9 0 0 1 14.85-3.36L23 10M1 14l4.64 4.36A9 9 0 0 0 20.49 15',
  door: 'M13 4h3a2 2 0 0 1 2 2v14M2 20h3M13 20h9M10 12v.01M13 4.56v16.88a.5.5 0 0 1-.63.48l-6.5-1.77A1 1 0 0 1 5 19.18V5.82a1 1 0 0 1 .87-.99l6.5-1.77a.5.5 0 0 1 .63.5z',
  bell: 'M18 8A6 6 0 0 0 6 8c0 7-3 9-3 9h18s-3-2-3-9M13.73 21a2 2 0 0 1-3.46 0',
  arrowDown: 'M12 5v14M19 12l-7 7-7-7',
};

/** An inline SVG icon (decorative: hidden from screen readers). */
export function icon(name, cls = '') {
  return svgIcon(ICONS[name] ?? ICONS.hash, cls);
}

/** A decorative 24×24 stroke icon drawn by the SVG path d (views with icons of their own use it). */
export function svgIcon(d, cls = '') {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', `icon ${cls}`.trim());
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  const path = document.createElementNS(SVG_NS, 'path');
  path.setAttribute('d', d);
  svg.append(path);
  return svg;
}

/** The Parley mark. */
export function logo(cls = '') {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 32 32');
  svg.setAttribute('class', `logo ${cls}`.trim());
  svg.setAttribute('aria-hidden', 'true');
  const rect = document.createElementNS(SVG_NS, 'rect');
  for (const [k, v] of Object.entries({ x: 1, y: 1, width: 30, height: 30, rx: 9, class: 'logo-bg' })) rect.setAttribute(k, v);
  const p = document.createElementNS(SVG_NS, 'path');
  p.setAttribute('d', 'M9 11.5a3.5 3.5 0 0 1 3.5-3.5h7a3.5 3.5 0 0 1 3.5 3.5v5a3.5 3.5 0 0 1-3.5 3.5H15l-4 3.5V20h-.5A1.5 1.5 0 0 1 9 18.5z');
  p.setAttribute('class', 'logo-fg');
  svg.append(rect, p);
  return svg;
}

/** A button with an icon and an accessible label. */
export function iconButton(name, label, props = {}) {
  const { class: extra, ...rest } = props;
  return h('button', { type: 'button', class: ['icon-btn', extra], 'aria-label': label, title: label, ...rest }, icon(name));
}
