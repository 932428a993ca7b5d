// Browse every public room; join or open one.

import { h, icon } from '../ui/dom.js';
import { emptyState, toastError } from '../ui/widgets.js';
import { plural } from '../lib/format.js';
import { keepFocus } from '../ui/focus.js';
import { createRoomDialog } from './dialogs.js';
import { viewHeader } from './shell.js';

export function browseView(ctx) {
  const { store, chat } = ctx;
  const filter = h('input', { type: 'search', placeholder: 'Filter rooms', 'aria-label': 'Filter rooms', testid: 'browse-filter' });
  const list = h('ul', { class: 'card-list', testid: 'browse-list' });
  const el = h('section', { class: 'page', testid: 'browse-view' },
    viewHeader(ctx, [h('h1', { text: 'Browse rooms' })], [h('button', { type: 'button', class: 'btn btn-primary btn-small', onClick: () => createRoomDialog(ctx) }, icon('plus'), 'Create room')]),
    h('div', { class: 'page-body' }, h('div', { class: 'toolbar' }, filter), list));

  // The room list changes with every message (unread counts, previews):
  // the cards are redrawn only when what they show changed, and the focus
  // stays on its card when they are.
  let shown = null;
  function render() {
    const q = filter.value.trim().toLowerCase();
    const rooms = store.state.rooms.filter((r) => r.kind !== 'dm' && r.kind !== 'group' && (r.kind === 'public' || r.is_member))
      .filter((r) => !q || r.name.toLowerCase().includes(q) || (r.description ?? '').toLowerCase().includes(q));
    const sig = JSON.stringify([q, rooms.map((r) => [r.id, r.name, r.description, r.kind, r.member_count, r.is_member])]);
    if (sig === shown) return;
    shown = sig;
    keepFocus(list, () => draw(q, rooms), () => filter);
  }

  function draw(q, rooms) {
    list.replaceChildren();
    if (rooms.length === 0) {
      list.append(h('li', {}, emptyState('compass', q ? 'No room matches.' : 'No rooms yet.', 'Create one and invite your team.')));
      return;
    }
    for (const r of rooms) {
      const action = r.is_member
        ? h('a', { href: `/rooms/${r.id}`, class: 'btn btn-ghost btn-small', 'aria-label': `Open ${r.name}`, dataset: { focusKey: `open-${r.id}` } }, 'Open')
        : h('button', {
          type: 'button', class: 'btn btn-primary btn-small', testid: 'browse-join', dataset: { roomId: r.id, focusKey: `join-${r.id}` }, 'aria-label': `Join ${r.name}`,
          onClick: async (e) => {
            e.currentTarget.disabled = true;
            try {
              await chat.join(r.id);
              ctx.router.go(`/rooms/${r.id}`);
            } catch (err) {
              toastError(err);
              e.currentTarget.disabled = false;
            }
          },
        }, 'Join');
      list.append(h('li', { class: 'card room-card', testid: 'browse-room', dataset: { roomId: r.id, roomName: r.name } },
        h('div', { class: 'card-icon' }, icon(r.kind === 'private' ? 'lock' : 'hash')),
        h('div', { class: 'card-text' },
          h('a', { href: `/rooms/${r.id}`, class: 'card-title', text: r.name, dataset: { focusKey: `title-${r.id}` } }),
          h('p', { class: 'card-sub', text: r.description || 'No description' }),
          h('p', { class: 'card-meta', text: `${plural(Number(r.member_count ?? 0), 'member')}${r.is_member ? ' · joined' : ''}` })),
        action));
    }
  }
  filter.addEventListener('input', render);
  const unsub = store.subscribe(['rooms'], render);
  render();
  chat.loadRooms().catch(() => {});
  return { el, destroy: unsub };
}
