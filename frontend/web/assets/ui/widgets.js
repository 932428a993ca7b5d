// Small reusable pieces: avatars, toasts, modal dialogs, menus.

import { h, append, clear, icon } from './dom.js';
import { rememberFocus } from './focus.js';
import { colorSlot, initials } from '../lib/format.js';

/**
 * A user's avatar: the image from user-service, over a coloured initials
 * placeholder that stays visible if the image fails.
 */
export function avatar(ctx, userId, name, size = 'md', online = null) {
  const el = h('span', { class: `avatar avatar-${size} c${colorSlot(userId ?? name)}`, 'aria-hidden': 'true' }, h('span', { class: 'avatar-initials', text: initials(name) }));
  if (userId != null) {
    const img = h('img', { alt: '', loading: 'lazy', decoding: 'async', src: ctx.profiles.avatarUrl(userId) });
    img.addEventListener('error', () => img.remove(), { once: true });
    el.append(img);
  }
  // online: true, false, or 'unknown' (the socket is away: nobody's
  // presence can be told).
  if (online != null) el.append(h('span', { class: `presence-dot ${online === 'unknown' ? 'unknown' : online ? 'on' : 'off'}` }));
  return el;
}

let toastHost = null;

/** Shows a short message at the bottom of the screen. */
export function toast(message, kind = 'info', ms = 4000) {
  if (!toastHost) {
    toastHost = h('div', { class: 'toasts', role: 'status', 'aria-live': 'polite' });
    document.body.append(toastHost);
  }
  const t = h('div', { class: `toast toast-${kind}`, testid: 'toast' }, icon(kind === 'error' ? 'alert' : 'check'), h('span', { text: message }));
  toastHost.append(t);
  setTimeout(() => {
    t.classList.add('leaving');
    setTimeout(() => t.remove(), 200);
  }, ms);
}

/** Shows an error from the API (or anything thrown) as a toast. */
export function toastError(err, fallback = 'Something went wrong.') {
  toast(err?.message || fallback, 'error', 6000);
}

let dialogSeq = 0;

/**
 * Opens a modal <dialog> built by build(close) and resolves with what
 * close(value) was given (undefined when dismissed with Escape or ✕).
 * The focus goes back to the opener (the focused element when it opened,
 * or opener) when it closes; returnFocus: false leaves it to the caller
 * (which navigates, say), fallback() names another target when the opener
 * is gone.
 */
export function modal(title, build, { testid = 'modal', wide = false, opener, fallback, returnFocus = true } = {}) {
  return new Promise((resolve) => {
    const titleId = `dlg-title-${++dialogSeq}`;
    const dlg = h('dialog', { class: ['modal', wide && 'modal-wide'], testid, 'aria-labelledby': titleId });
    const restore = rememberFocus(opener ?? document.activeElement, fallback);
    let result;
    let keepFocusHere = false;
    const close = (value, { focus = true } = {}) => {
      result = value;
      keepFocusHere = !focus;
      dlg.close();
    };
    dlg.addEventListener('close', () => {
      // The close event comes a task after the dialog closed, and Chromium
      // has by then put the focus back on the opener itself: only a focus
      // that was lost (the opener re-rendered meanwhile) is restored here,
      // never one the user has since moved.
      const lost = !document.activeElement || document.activeElement === document.body || dlg.contains(document.activeElement);
      dlg.remove();
      if (returnFocus && !keepFocusHere && lost) restore();
      resolve(result);
    });
    dlg.addEventListener('click', (e) => {
      if (e.target === dlg) close();
    });
    const header = h('div', { class: 'modal-header' }, h('h2', { id: titleId, text: title }), h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Close', title: 'Close', onClick: () => close() }, icon('x')));
    const body = h('div', { class: 'modal-body' });
    append(body, build(close));
    dlg.append(header, body);
    document.body.append(dlg);
    dlg.showModal();
    const first = body.querySelector('input, textarea, select, button');
    first?.focus();
  });
}

/** Asks a yes/no question; resolves true when confirmed. opts go to modal(). */
export function confirmDialog(title, message, confirmLabel = 'Confirm', danger = false, opts = {}) {
  return modal(title, (close) => [
    h('p', { class: 'modal-text', text: message }),
    h('div', { class: 'modal-actions' },
      h('button', { type: 'button', class: 'btn btn-ghost', onClick: () => close(false) }, 'Cancel'),
      h('button', { type: 'button', class: ['btn', danger ? 'btn-danger' : 'btn-primary'], testid: 'confirm-ok', onClick: () => close(true) }, confirmLabel)),
  ], { testid: 'confirm-dialog', ...opts }).then((v) => v === true);
}

let closeOpenMenu = null;

/** Marks a button as opening a menu (aria-haspopup, aria-expanded). */
export function menuButton(btn) {
  btn.setAttribute('aria-haspopup', 'menu');
  btn.setAttribute('aria-expanded', 'false');
  return btn;
}

/**
 * A popup menu anchored to a button: items are [{label, icon, onSelect,
 * danger, testid}]. Arrow keys, Home and End move, Escape closes and Tab
 * leaves; the focus is back on the anchor before an item's action runs, so
 * a dialog it opens returns the focus there too.
 */
export function openMenu(anchor, items) {
  closeOpenMenu?.();
  const menu = h('div', { class: 'menu', role: 'menu', 'aria-label': anchor.getAttribute('aria-label') || anchor.textContent.trim() || 'Menu' });
  for (const it of items.filter(Boolean)) {
    menu.append(h('button', {
      type: 'button', role: 'menuitem', class: ['menu-item', it.danger && 'danger'], testid: it.testid, tabindex: '-1',
      onClick: () => { done(); anchor.focus(); it.onSelect(); },
    }, it.icon ? icon(it.icon) : null, h('span', { text: it.label })));
  }
  anchor.setAttribute('aria-expanded', 'true');
  const r = anchor.getBoundingClientRect();
  document.body.append(menu);
  const mw = menu.offsetWidth;
  const left = Math.max(8, Math.min(window.innerWidth - mw - 8, r.right - mw));
  const below = r.bottom + 4 + menu.offsetHeight < window.innerHeight;
  menu.style.left = `${left}px`;
  menu.style.top = below ? `${r.bottom + 4}px` : `${Math.max(8, r.top - 4 - menu.offsetHeight)}px`;
  const buttons = [...menu.querySelectorAll('button')];
  buttons[0]?.focus();
  function onKey(e) {
    const i = buttons.indexOf(document.activeElement);
    if (e.key === 'Escape') { e.preventDefault(); e.stopPropagation(); done(); anchor.focus(); }
    else if (e.key === 'Tab') { done(); anchor.focus(); } // the Tab itself then moves on from the anchor
    else if (e.key === 'ArrowDown') { e.preventDefault(); buttons[(i + 1) % buttons.length]?.focus(); }
    else if (e.key === 'ArrowUp') { e.preventDefault(); buttons[(i - 1 + buttons.length) % buttons.length]?.focus(); }
    else if (e.key === 'Home') { e.preventDefault(); buttons[0]?.focus(); }
    else if (e.key === 'End') { e.preventDefault(); buttons.at(-1)?.focus(); }
  }
  function onDown(e) {
    if (!menu.contains(e.target) && e.target !== anchor && !anchor.contains(e.target)) done();
  }
  function done() {
    menu.remove();
    anchor.setAttribute('aria-expanded', 'false');
    document.removeEventListener('keydown', onKey, true);
    document.removeEventListener('pointerdown', onDown, true);
    if (closeOpenMenu === done) closeOpenMenu = null;
  }
  closeOpenMenu = done;
  document.addEventListener('keydown', onKey, true);
  document.addEventListener('pointerdown', onDown, true);
  return done;
}

let fieldSeq = 0;

/** A labelled form field; the hint is tied to the input (aria-describedby). */
export function field(label, input, hint) {
  const id = input.id || `f-${++fieldSeq}`;
  input.id = id;
  let hintEl = null;
  if (hint) {
    hintEl = h('div', { class: 'field-hint', id: `${id}-hint`, text: hint });
    input.setAttribute('aria-describedby', hintEl.id);
  }
  return h('div', { class: 'field' }, h('label', { for: id, text: label }), input, hintEl);
}

/**
 * Shows message as input's own error (aria-invalid, and described by it
 * after its hint), or clears it when message is empty.
 */
export function fieldError(input, message) {
  const id = `${input.id}-error`;
  let el = document.getElementById(id);
  const hint = `${input.id}-hint`;
  const hasHint = !!document.getElementById(hint);
  if (!message) {
    el?.remove();
    input.removeAttribute('aria-invalid');
    if (hasHint) input.setAttribute('aria-describedby', hint);
    else input.removeAttribute('aria-describedby');
    return;
  }
  if (!el) {
    el = h('div', { class: 'field-error', id, testid: 'field-error' });
    (input.closest('.field') ?? input.parentElement).append(el);
  }
  el.textContent = message;
  input.setAttribute('aria-invalid', 'true');
  input.setAttribute('aria-describedby', hasHint ? `${hint} ${id}` : id);
}

/** A spinner for loading states. */
export function spinner(label = 'Loading') {
  return h('div', { class: 'spinner', role: 'status', 'aria-label': label });
}

/** An empty-state block (its title an h2, under the view's h1). */
export function emptyState(iconName, title, text, ...actions) {
  return emptyStateAt('h2', iconName, title, text, ...actions);
}

/** An empty-state block whose title is the given heading tag. */
export function emptyStateAt(tag, iconName, title, text, ...actions) {
  return h('div', { class: 'empty' }, h('div', { class: 'empty-icon' }, icon(iconName)), h(tag, { class: 'empty-title', text: title }), text ? h('p', { text }) : null, actions.length ? h('div', { class: 'empty-actions' }, actions) : null);
}

export { clear };
