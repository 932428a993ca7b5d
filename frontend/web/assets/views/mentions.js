// The Mentions view: messages that name the user (GET /mentions), newest
// first, a page at a time; a live `mention` frame puts a new one on top.
// Each opens its room at the message.

import { h } from '../ui/dom.js';
import { avatar, emptyState, spinner } from '../ui/widgets.js';
import { keepFocus } from '../ui/focus.js';
import { displayName, preview } from '../lib/format.js';
import { plainText } from '../lib/markdown.js';
import { fullTime, listTime } from '../lib/timefmt.js';
import { directTitle, isDirect, mentionBody } from './direct.js';
import { viewHeader } from './shell.js';
import { messagePath } from '../lib/threads.js';

const PAGE = 30;

export function mentionsView(ctx) {
  const { api, store, chat, profiles } = ctx;
  const list = h('ul', { class: 'card-list mention-feed', testid: 'mentions-list', 'aria-label': 'Mentions' });
  const more = h('button', { type: 'button', class: 'btn btn-ghost', testid: 'mentions-more', hidden: true, onClick: () => load() }, 'Load older mentions');
  const status = h('div', { class: 'mentions-status' });
  const el = h('section', { class: 'page', testid: 'mentions-view' },
    viewHeader(ctx, [h('h1', { text: 'Mentions' })]),
    h('div', { class: 'page-body' }, list, status, more));
  const msgs = [];
  let cursor = null;
  let loading = false;
  let destroyed = false;

  function where(m) {
    const room = chat.room(m.room_id);
    if (!room) return m.room_name ? `#${m.room_name}` : 'a room';
    return isDirect(room) ? directTitle(ctx, room) : `#${room.name}`;
  }

  function item(m) {
    const name = displayName(profiles.get(m.user_id), m.username);
    const place = where(m);
    return h('li', {},
      h('a', {
        href: messagePath(m), class: 'card hit mention-hit', testid: 'mention-hit',
        dataset: { roomId: m.room_id, seq: m.seq, id: m.id, focusKey: `mention-${m.id}` },
        'aria-label': `${name} in ${place}, ${fullTime(m.created_at)}: ${preview(plainText(m.body), 140)}`,
      },
      avatar(ctx, m.user_id, name, 'sm'),
      h('div', { class: 'card-text' },
        h('div', { class: 'hit-meta' }, h('strong', { text: name }), h('span', { class: 'muted', text: ` in ${place}` }),
          h('time', { class: 'muted', datetime: m.created_at, title: fullTime(m.created_at), text: ` · ${listTime(m.created_at)}` })),
        h('p', { class: 'hit-body' }, m.deleted ? 'This message was deleted.' : mentionBody(ctx, m, { compact: 400 })))));
  }

  function draw() {
    keepFocus(list, () => {
      list.replaceChildren(...msgs.map(item));
      if (msgs.length === 0 && !loading) list.append(h('li', {}, emptyState('message', 'No mentions yet.', 'When someone writes @' + (api.user?.username ?? 'you') + ', it shows up here.')));
    }, () => el.querySelector('h1'));
    more.hidden = cursor == null || loading;
  }

  async function load() {
    if (loading) return;
    loading = true;
    more.hidden = true;
    status.replaceChildren(spinner('Loading mentions'));
    try {
      const page = await api.get('/api/chat/mentions', { limit: PAGE, before_id: cursor ?? undefined });
      if (destroyed) return;
      const seen = new Set(msgs.map((m) => m.id));
      for (const m of page.messages ?? []) if (!seen.has(m.id)) msgs.push(m);
      cursor = page.next_cursor ?? null;
      if (cursor === '') cursor = null;
      status.replaceChildren();
    } catch (err) {
      if (destroyed) return;
      status.replaceChildren(emptyState('alert', 'Could not load mentions.', err.message));
    } finally {
      loading = false;
    }
    draw();
  }

  const unsubs = [
    store.subscribe(['lastMention'], (s) => {
      const m = s.lastMention;
      if (!m || msgs.some((x) => x.id === m.id)) return;
      msgs.unshift(m);
      draw();
    }),
    store.subscribe(['profilesVersion'], () => {
      if (!loading) draw();
    }),
  ];
  load();
  return {
    el,
    destroy() {
      destroyed = true;
      unsubs.forEach((u) => u());
    },
  };
}
