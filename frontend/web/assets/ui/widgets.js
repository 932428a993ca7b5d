// Small reusable pieces: avatars, toasts, modal dialogs, menus.

import { h, append, clear, icon } from './dom.js';
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
  if (online != null) el.append(h('span', { class: `presence-dot ${online ? 'on' : 'off'}` }));
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

/**
 * Opens a modal <dialog> built by build(close) and resolves with what
 * close(value) was given (undefined when dismissed with Escape or ✕).
 */
export function modal(title, build, { testid = 'modal', wide = false } = {}) {
  return new Promise((resolve) => {
    const dlg = h('dialog', { class: ['modal', wide && 'modal-wide'], testid, 'aria-label': title });
    let result;
    const close = (value) => {
      result = value;
      dlg.close();
    };
    dlg.addEventListener('close', () => {
      dlg.remove();
      resolve(result);
    });
    dlg.addEventListener('click', (e) => {
      if (e.target === dlg) close();
    });
    const header = h('header', { class: 'modal-header' }, h('h2', { text: title }), h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Close', onClick: () => close() }, icon('x')));
    const body = h('div', { class: 'modal-body' });
    append(body, build(close));
    dlg.append(header, body);
    document.body.append(dlg);
    dlg.showModal();
    const first = body.querySelector('input, textarea, select, button');
    first?.focus();
  });
}

/** Asks a yes/no question; resolves true when confirmed. */
export function confirmDialog(title, message, confirmLabel = 'Confirm', danger = false) {
  return modal(title, (close) => [
    h('p', { class: 'modal-text', text: message }),
    h('div', { class: 'modal-actions' },
      h('button', { type: 'button', class: 'btn btn-ghost', onClick: () => close(false) }, 'Cancel'),
      h('button', { type: 'button', class: ['btn', danger ? 'btn-danger' : 'btn-primary'], testid: 'confirm-ok', onClick: () => close(true) }, confirmLabel)),
  ], { testid: 'confirm-dialog' }).then((v) => v === true);
}

/**
 * A popup menu anchored to a button: items are [{label, icon, onSelect,
 * danger, testid}]. Arrow keys move, Escape closes, focus returns.
 */
export function openMenu(anchor, items) {
  document.querySelector('.menu')?.remove();
  const menu = h('div', { class: 'menu', role: 'menu' });
  for (const it of items.filter(Boolean)) {
    menu.append(h('button', {
      type: 'button', role: 'menuitem', class: ['menu-item', it.danger && 'danger'], testid: it.testid,
      onClick: () => { done(); it.onSelect(); },
    }, it.icon ? icon(it.icon) : null, h('span', { text: it.label })));
  }
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
    if (e.key === 'Escape') { e.preventDefault(); done(); anchor.focus(); }
    else if (e.key === 'ArrowDown') { e.preventDefault(); buttons[(i + 1) % buttons.length]?.focus(); }
    else if (e.key === 'ArrowUp') { e.preventDefault(); buttons[(i - 1 + buttons.length) % buttons.length]?.focus(); }
  }
  function onDown(e) {
    if (!menu.contains(e.target) && e.target !== anchor && !anchor.contains(e.target)) done();
  }
  function done() {
    menu.remove();
    document.removeEventListener('keydown', onKey, true);
    document.removeEventListener('pointerdown', onDown, true);
  }
  document.addEventListener('keydown', onKey, true);
  document.addEventListener('pointerdown', onDown, true);
  return done;
}

/** A labelled form field. */
export function field(label, input, hint) {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  return h('div', { class: 'field' }, h('label', { for: id, text: label }), input, hint ? h('div', { class: 'field-hint', text: hint }) : null);
}

/** A spinner for loading states. */
export function spinner(label = 'Loading') {
  return h('div', { class: 'spinner', role: 'status', 'aria-label': label });
}

/** An empty-state block. */
export function emptyState(iconName, title, text, ...actions) {
  return h('div', { class: 'empty' }, h('div', { class: 'empty-icon' }, icon(iconName)), h('h3', { text: title }), text ? h('p', { text }) : null, actions.length ? h('div', { class: 'empty-actions' }, actions) : null);
}

export { clear };
