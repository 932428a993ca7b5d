// Pins in the SPA: the Pin/Unpin action of a message's toolbar, the
// "Pinned by …" marker on a pinned message, and a room's pins pane opened
// from the room header (beside the room on a desktop, a full screen with a
// back button on a phone, as the thread pane), listing the pinned messages
// newest pin first, each a link to the message in the room. The list
// follows message_updated frames (PinClient). User text goes in as text
// nodes only.

import { h, iconButton, icon, replace, svgIcon } from '../ui/dom.js';
import { avatar, emptyState, spinner, toastError } from '../ui/widgets.js';
import { say } from '../ui/live.js';
import { displayName, preview } from '../lib/format.js';
import { fullTime, listTime } from '../lib/timefmt.js';
import { messagePath } from '../lib/threads.js';
import { isPinned, pinActionLabel, pinCountText, pinnedByText } from '../lib/pins.js';

const PATHS = {
  pin: 'M12 17v5M9 10.76a2 2 0 0 1-1.11 1.79l-1.78.9A2 2 0 0 0 5 15.24V16a1 1 0 0 0 1 1h12a1 1 0 0 0 1-1v-.76a2 2 0 0 0-1.11-1.79l-1.78-.9A2 2 0 0 1 15 10.76V7a1 1 0 0 1 1-1 2 2 0 0 0 0-4H8a2 2 0 0 0 0 4 1 1 0 0 1 1 1z',
  unpin: 'M12 17v5M15 9.34V7a1 1 0 0 1 1-1 2 2 0 0 0 0-4H7.89M2 2l20 20M9 9v1.76a2 2 0 0 1-1.11 1.79l-1.78.9A2 2 0 0 0 5 15.24V16a1 1 0 0 0 1 1h11',
};
function glyph(name) {
  return svgIcon(PATHS[name]);
}

const phone = () => window.matchMedia('(max-width: 768px)').matches;

function pinnerName(ctx, msg) {
  const by = msg.pinned_by;
  if (!by) return '';
  return displayName(ctx.profiles.get(Number(by.user_id)), by.username);
}

/**
 * The Pin/Unpin button of a message's toolbar (o.onTogglePin given: the
 * viewer may pin in this room). One test id for both states, so the focus
 * stays on it when the message is redrawn pinned.
 */
export function pinAction(msg, o) {
  if (!o.onTogglePin || msg.deleted) return null;
  const pinned = isPinned(msg);
  return h('button', {
    type: 'button', tabindex: '-1', class: ['icon-btn', pinned && 'pin-on'], testid: 'pin-message',
    'aria-label': pinActionLabel(msg), title: pinned ? 'Unpin' : 'Pin', onClick: () => o.onTogglePin(),
  }, glyph(pinned ? 'unpin' : 'pin'));
}

/**
 * "Pinned by ann" above a pinned message, or null. Its id joins the
 * article's name (parts), so a screen reader hears it with the message.
 */
export function pinMarker(ctx, msg, id, parts) {
  if (!isPinned(msg)) return null;
  parts.push(`${id}-pin`);
  return h('div', { class: 'pin-marker', id: `${id}-pin`, testid: 'pin-marker', title: msg.pinned_at ? `${pinnedByText(msg, pinnerName(ctx, msg))}, ${fullTime(msg.pinned_at)}` : null },
    glyph('pin'), h('span', { text: pinnedByText(msg, pinnerName(ctx, msg)) }));
}

/** Whether the viewer may pin in room rid: members, not in archived rooms. */
export function canPin(ctx, rid) {
  const r = ctx.chat.room(rid);
  return !!r?.is_member && !r.archived;
}

/** Pins or unpins msg; the announcer says which, a toast says why not. */
export async function togglePin(ctx, msg) {
  const pin = !isPinned(msg);
  try {
    await ctx.pins.setPinned(msg, pin);
    say(pin ? 'Message pinned' : 'Message unpinned');
  } catch (err) {
    toastError(err, pin ? 'Could not pin the message.' : 'Could not unpin the message.');
  }
}

/**
 * A room's pins: the header button (with the count) and the pane it opens.
 * o: {roomEl, before (the element the pane goes before), onOpen (another
 * pane must close)}. Returns {button, canPin(), toggle(msg), open(),
 * close(), destroy()}.
 */
export function roomPins(ctx, rid, o) {
  const { store } = ctx;
  const pins = ctx.pins;
  let pane = null;
  let destroyed = false;
  const count = h('span', { class: 'pin-count', testid: 'pins-count' });
  const button = h('button', {
    type: 'button', class: ['members-toggle', 'pins-toggle'], testid: 'pins-toggle', 'aria-pressed': 'false',
    onClick: () => (pane ? close() : open()),
  }, glyph('pin'), count);

  function state() {
    return pins.of(rid);
  }

  function renderButton() {
    const s = state();
    const n = s?.loaded ? s.list.length : null;
    count.textContent = n ? String(n) : '';
    count.hidden = !n;
    button.setAttribute('aria-label', n == null ? 'Pinned messages' : `Pinned messages: ${n}`);
    button.title = pane ? 'Hide pinned messages' : 'Show pinned messages';
    button.setAttribute('aria-pressed', pane ? 'true' : 'false');
    button.classList.toggle('active', !!pane);
  }

  const mayPin = () => canPin(ctx, rid);
  const toggle = (msg) => togglePin(ctx, msg);

  function open() {
    if (pane || destroyed) return;
    o.onOpen?.();
    pane = pinsPane(ctx, rid, { canPin: mayPin, toggle, onClose: () => close() });
    o.before.before(pane.el);
    o.roomEl.classList.add('pins-open');
    renderButton();
    pane.focusHeading();
  }

  // The focus goes back to the header button when it was in the pane.
  function close({ restoreFocus = true } = {}) {
    if (!pane) return;
    const inside = pane.el.contains(document.activeElement);
    pane.destroy();
    pane.el.remove();
    pane = null;
    o.roomEl.classList.remove('pins-open');
    renderButton();
    if (restoreFocus && inside) button.focus();
  }

  const unsub = store.subscribe(['pins'], renderButton);
  renderButton();
  pins.load(rid).catch(() => {});

  return {
    button,
    canPin: mayPin,
    toggle,
    open,
    close,
    get isOpen() {
      return !!pane;
    },
    destroy() {
      destroyed = true;
      unsub();
      pane?.destroy();
    },
  };
}

/** The pins pane of room rid. o: {canPin(), toggle(msg), onClose}. */
function pinsPane(ctx, rid, o) {
  const { store, profiles } = ctx;
  const pins = ctx.pins;
  const titleId = `pins-title-${rid}`;
  const back = h('button', { type: 'button', class: 'btn btn-ghost btn-small thread-back', testid: 'pins-back', 'aria-label': 'Back to the room' }, icon('back'), h('span', { text: 'Back' }));
  back.addEventListener('click', () => o.onClose());
  const close = iconButton('x', 'Close pinned messages', { class: 'thread-close', testid: 'pins-close', onClick: () => o.onClose() });
  const heading = h('h2', { id: titleId, tabindex: '-1', text: 'Pinned messages' });
  const summary = h('span', { class: 'muted thread-where', testid: 'pins-summary' });
  const body = h('div', { class: 'pins-body' }, spinner('Loading pinned messages'));
  const el = h('aside', { class: 'pins-pane', testid: 'pins-pane', 'aria-labelledby': titleId, dataset: { roomId: rid } },
    h('div', { class: 'thread-head' }, back, h('div', { class: 'thread-titles' }, heading, summary), close), body);

  el.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && !e.defaultPrevented) {
      e.preventDefault();
      e.stopPropagation();
      o.onClose();
    }
  });

  function item(m) {
    const name = displayName(profiles.get(m.user_id), m.username);
    const link = h('a', {
      href: messagePath(m), class: 'pin-item', testid: 'pin-item', dataset: { id: m.id },
      // On a phone the pane covers the room: it steps aside for the message.
      onClick: () => { if (phone()) queueMicrotask(() => o.onClose()); },
    },
    avatar(ctx, m.user_id, name, 'sm'),
    h('span', { class: 'pin-item-text' },
      h('span', { class: 'pin-item-meta' }, h('strong', { text: name }), h('time', { class: 'muted', datetime: m.created_at, title: fullTime(m.created_at), text: ` ${listTime(m.created_at)}` })),
      h('span', { class: 'pin-item-body', text: preview(m.body, 300) }),
      h('span', { class: 'muted pin-item-by', text: pinnedByText(m, m.pinned_by ? displayName(profiles.get(Number(m.pinned_by.user_id)), m.pinned_by.username) : '') })));
    const unpin = o.canPin()
      ? h('button', { type: 'button', class: 'icon-btn pin-item-unpin', testid: 'pin-item-unpin', 'aria-label': `Unpin message from ${name}`, title: 'Unpin', dataset: { id: m.id }, onClick: () => o.toggle(m) }, glyph('unpin'))
      : null;
    return h('li', { class: 'pin-entry', dataset: { id: m.id } }, link, unpin);
  }

  let sig = null;
  function render() {
    const s = pins.of(rid);
    if (!s?.loaded) return;
    const list = s.list;
    summary.textContent = pinCountText(list.length);
    const next = `${o.canPin()}|${list.map((m) => `${m.id}:${m.body}:${m.pinned_at}`).join(',')}|${store.state.profilesVersion ?? ''}`;
    if (next === sig) return;
    sig = next;
    // The focus stays on the same entry's control when the list is redrawn,
    // or on the heading when its entry went away.
    const active = document.activeElement;
    const hadFocus = body.contains(active);
    const focusId = hadFocus ? active.closest('[data-id]')?.dataset.id : null;
    const focusUnpin = hadFocus && active.dataset.testid === 'pin-item-unpin';
    if (s.error && list.length === 0) {
      replace(body, emptyState('alert', 'Could not load the pinned messages.', s.error.message ?? ''));
    } else if (list.length === 0) {
      replace(body, emptyState('message', 'No pinned messages yet.', 'Pin a message from its actions to keep it here for everyone in the room.'));
    } else {
      replace(body, h('ul', { class: 'pin-list', testid: 'pin-list', 'aria-labelledby': titleId }, list.map(item)));
    }
    if (hadFocus && !body.contains(active)) {
      const entry = focusId ? body.querySelector(`.pin-entry[data-id="${CSS.escape(focusId)}"]`) : null;
      const target = entry?.querySelector(focusUnpin ? '[data-testid=pin-item-unpin]' : '[data-testid=pin-item]') ?? entry?.querySelector('a');
      (target ?? heading).focus();
    }
  }

  const unsub = store.subscribe(['pins', 'profilesVersion', 'rooms'], render);
  render();
  pins.load(rid).then(render, () => render());

  return {
    el,
    focusHeading() {
      heading.focus();
    },
    destroy() {
      unsub();
    },
  };
}
