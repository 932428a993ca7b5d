// Full-text search over the rooms the user can read.

import { h, highlighted, icon } from '../ui/dom.js';
import { avatar, emptyState, spinner } from '../ui/widgets.js';
import { displayName } from '../lib/format.js';
import { compact, parse, renderInline } from '../lib/markdown.js';
import { fullTime, listTime } from '../lib/timefmt.js';
import { viewHeader } from './shell.js';

export function searchView(ctx, query) {
  const { store, chat, profiles } = ctx;
  const q = String(query.q ?? '');
  const input = h('input', { type: 'search', value: q, placeholder: 'Search messages', 'aria-label': 'Search messages', testid: 'search-page-input', enterkeyhint: 'search' });
  const roomSel = h('select', { 'aria-label': 'Search in room', testid: 'search-room' },
    h('option', { value: '', text: 'All rooms' }),
    store.state.rooms.filter((r) => r.is_member || r.kind === 'public').map((r) => h('option', { value: String(r.id), selected: String(r.id) === String(query.room_id ?? ''), text: r.kind === 'dm' ? `@${r.dm_user?.username ?? r.name}` : r.name })));
  const results = h('div', { class: 'search-results', testid: 'search-results', 'aria-live': 'polite' });
  const form = h('form', {
    class: 'toolbar', role: 'search',
    onSubmit: (e) => {
      e.preventDefault();
      const params = new URLSearchParams();
      if (input.value.trim()) params.set('q', input.value.trim());
      if (roomSel.value) params.set('room_id', roomSel.value);
      ctx.router.go(`/search?${params}`);
    },
  }, h('div', { class: 'search-box' }, icon('search'), input), roomSel, h('button', { type: 'submit', class: 'btn btn-primary' }, 'Search'));
  const el = h('section', { class: 'page', testid: 'search-view' }, viewHeader(ctx, [h('h1', { text: 'Search' })]), h('div', { class: 'page-body' }, form, results));

  async function run() {
    if (!q.trim()) {
      results.replaceChildren(emptyState('search', 'Search your conversations', 'Find messages in every room you can read.'));
      return;
    }
    results.replaceChildren(spinner('Searching'));
    try {
      const hits = await chat.search(q.trim(), query.room_id);
      results.replaceChildren();
      if (hits.length === 0) {
        results.append(emptyState('search', `No results for “${q}”.`, 'Try other words, or fewer of them.'));
        return;
      }
      results.append(h('p', { class: 'muted', text: `${hits.length}${hits.length >= 50 ? '+' : ''} result${hits.length === 1 ? '' : 's'}` }));
      for (const m of hits) {
        const name = displayName(profiles.get(m.user_id), m.username);
        const room = chat.room(m.room_id);
        const roomName = m.room_name ?? room?.name ?? `room ${m.room_id}`;
        results.append(h('a', { href: `/rooms/${m.room_id}?seq=${m.seq}`, class: 'card hit', testid: 'search-hit', dataset: { roomId: m.room_id, seq: m.seq } },
          avatar(ctx, m.user_id, name, 'sm'),
          h('div', { class: 'card-text' },
            h('div', { class: 'hit-meta' }, h('strong', { text: name }), h('span', { class: 'muted', text: ` in ${room?.kind === 'dm' ? 'a direct message' : roomName}` }), h('time', { class: 'muted', title: fullTime(m.created_at), text: ` · ${listTime(m.created_at)}` })),
            h('p', { class: 'hit-body' }, renderInline(compact(parse(m.body), 240), document.createDocumentFragment(), { links: false, text: (s) => highlighted(s, q) })))));
      }
    } catch (err) {
      results.replaceChildren(emptyState('alert', 'Search failed.', err.message));
    }
  }
  run();
  return { el };
}
