// "Who's online": everyone online in a room, by username, a page at a
// time (GET /rooms/:id/online?limit=&cursor=), in a modal dialog. In a big
// room this is the only place the whole list is seen; the count is read
// out when the dialog opens and after each "Load more", never on its own.

import { h } from '../ui/dom.js';
import { avatar, modal } from '../ui/widgets.js';
import { displayName } from '../lib/format.js';
import { directTitle } from './direct.js';

const PAGE = 50;

/** Opens the dialog for room; opts go to modal() (opener, fallback). */
export function whosOnlineDialog(ctx, room, opts = {}) {
  const { chat, profiles } = ctx;
  const rid = Number(room.id);
  return modal(`Who's online in ${directTitle(ctx, room)}`, () => {
    const status = h('p', { class: 'muted online-status', role: 'status', testid: 'online-status', text: 'Loading…' });
    const list = h('ul', { class: 'online-list', testid: 'online-list', 'aria-label': 'Online now' });
    const more = h('button', { type: 'button', class: 'btn btn-ghost btn-block', testid: 'online-more', hidden: true }, 'Load more');
    let cursor = null;
    let shown = 0;
    let loading = false;

    function row(u) {
      const uid = Number(u.user_id);
      const name = displayName(profiles.get(uid), u.username);
      return h('li', { class: 'online-item', testid: 'online-item', tabindex: '-1', dataset: { userId: uid, username: u.username } },
        avatar(ctx, uid, name, 'sm', true),
        h('span', { class: 'member-text' }, h('span', { class: 'member-name', text: name }), name !== u.username ? h('span', { class: 'member-status', text: `@${u.username}` }) : null));
    }

    async function load() {
      if (loading) return;
      loading = true;
      // aria-disabled, not disabled: the focus stays on the button.
      more.setAttribute('aria-disabled', 'true');
      const first = shown === 0;
      try {
        const page = await chat.onlinePage(rid, { cursor, limit: PAGE });
        const items = page.online.map(row);
        list.append(...items);
        shown += items.length;
        cursor = page.next_cursor;
        const count = page.count ?? chat.onlineCount(rid) ?? shown;
        status.textContent = cursor ? `${count.toLocaleString()} online, showing ${shown.toLocaleString()}` : shown === 0 ? 'Nobody is online.' : `${count.toLocaleString()} online`;
        more.hidden = !cursor;
        // After "Load more" the focus goes to the first name it added;
        // Tab from there reaches the next "Load more".
        if (!first && items.length) items[0].focus();
      } catch (err) {
        status.textContent = `Could not load who is online: ${err?.message || 'try again'}.`;
        more.hidden = false;
        more.textContent = first ? 'Try again' : 'Load more';
      } finally {
        loading = false;
        more.removeAttribute('aria-disabled');
      }
    }
    more.addEventListener('click', () => load());
    load();
    return [status, list, more];
  }, { testid: 'online-dialog', ...opts });
}
