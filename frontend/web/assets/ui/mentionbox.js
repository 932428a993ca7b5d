// The composer's @mention autocomplete: typing @ opens a listbox of people
// (the room's members first, then, in public rooms, others from the
// directory; @room and @here too). The focus stays in the textarea, which
// names the list (aria-controls) and its active option
// (aria-activedescendant): Up and Down move, Enter or Tab insert the name,
// Escape closes; a polite status says how many match. The textarea keeps
// its textbox role (a multi-line field), the rest is the ARIA combobox
// pattern.

import { h } from './dom.js';
import { avatar } from './widgets.js';
import { displayName } from '../lib/format.js';
import { applyMention, mentionAt, rankCandidates } from '../lib/mentions.js';

let seq = 0;

/**
 * Attaches the autocomplete to textarea for room rid. Call before the
 * composer's own keydown listener: a key the list uses goes no further.
 * Returns {el (the popup, to place beside the textarea), close()}.
 */
export function mentionAutocomplete(ctx, textarea, rid) {
  const { api, store, profiles, chat } = ctx;
  const listId = `mention-list-${++seq}`;
  const list = h('ul', { class: 'mention-list', role: 'listbox', id: listId, 'aria-label': 'People to mention', testid: 'mention-list' });
  const status = h('div', { class: 'visually-hidden', role: 'status', testid: 'mention-status' });
  const el = h('div', { class: 'mention-popup', testid: 'mention-popup', hidden: true }, list);
  const wrap = h('div', { class: 'mention-anchor' }, el, status);
  textarea.setAttribute('aria-autocomplete', 'list');
  textarea.setAttribute('aria-controls', listId);

  let items = [];
  let active = 0;
  let token = null;
  let dismissedAt = -1; // Escape closes the list until the next keystroke
  const directory = new Map(); // query → profiles (public rooms)
  let lookup = 0;

  function room() {
    return chat.room(rid);
  }

  function members() {
    return (store.state.members[rid] ?? []).map((m) => {
      const p = profiles.get(Number(m.user_id));
      return { user_id: Number(m.user_id), username: m.username, display_name: p?.display_name ?? '' };
    });
  }

  function others(q) {
    if (room()?.kind !== 'public') return [];
    if (directory.has(q)) return directory.get(q);
    directory.set(q, []);
    const mine = ++lookup;
    api.get('/api/users/profiles', { q, limit: 8 }).then((res) => {
      const people = res.profiles ?? [];
      for (const p of people) profiles.put(p);
      directory.set(q, people);
      if (mine === lookup && token && token.query.toLowerCase() === q) update();
    }, () => directory.delete(q));
    return [];
  }

  function close() {
    if (el.hidden && !items.length) return;
    el.hidden = true;
    items = [];
    list.replaceChildren();
    textarea.removeAttribute('aria-activedescendant');
    status.textContent = '';
  }

  function setActive(i) {
    active = i;
    list.querySelectorAll('[role=option]').forEach((o, j) => {
      o.setAttribute('aria-selected', j === i ? 'true' : 'false');
      o.classList.toggle('active', j === i);
      if (j === i) {
        textarea.setAttribute('aria-activedescendant', o.id);
        o.scrollIntoView({ block: 'nearest' });
      }
    });
  }

  function option(c, i) {
    const name = c.special ? `@${c.username}` : displayName(c, c.username);
    const o = h('li', {
      role: 'option', id: `${listId}-${i}`, class: 'mention-item', 'aria-selected': 'false', testid: 'mention-option',
      dataset: { username: c.username, member: c.member ? '1' : '0' },
      onMousedown: (e) => e.preventDefault(), // the focus stays in the textarea
      onClick: () => pick(i),
    },
    c.special ? h('span', { class: 'avatar avatar-sm mention-at', 'aria-hidden': 'true', text: '@' }) : avatar(ctx, c.user_id, name, 'sm'),
    h('span', { class: 'mention-text' },
      h('span', { class: 'mention-name', text: name }),
      h('span', { class: 'mention-sub', text: c.special ? c.label : `@${c.username}${c.member ? '' : ' · not in this room'}` })));
    o.addEventListener('mouseenter', () => setActive(i));
    return o;
  }

  function update() {
    const caret = textarea.selectionStart ?? textarea.value.length;
    token = textarea.selectionStart === textarea.selectionEnd ? mentionAt(textarea.value, caret) : null;
    if (!token || token.start === dismissedAt) {
      if (!token) dismissedAt = -1;
      close();
      return;
    }
    const q = token.query.toLowerCase();
    const r = room();
    items = rankCandidates(q, { members: members(), others: others(q), me: api.user, roomWords: r?.kind !== 'dm' });
    if (items.length === 0) {
      close();
      status.textContent = 'No one to mention matches.';
      return;
    }
    list.replaceChildren(...items.map(option));
    el.hidden = false;
    setActive(Math.min(active, items.length - 1));
    status.textContent = `${items.length === 1 ? '1 suggestion' : `${items.length} suggestions`}. Up and Down to choose, Enter or Tab to insert, Escape to close.`;
  }

  function pick(i) {
    const c = items[i];
    if (!c || !token) return;
    const caret = textarea.selectionStart ?? textarea.value.length;
    const out = applyMention(textarea.value, token.start, caret, c.username);
    textarea.value = out.text;
    textarea.setSelectionRange(out.caret, out.caret);
    close();
    token = null;
    // The composer's own input handling (draft, height, typing) runs too.
    textarea.dispatchEvent(new Event('input', { bubbles: true }));
    status.textContent = `Inserted @${c.username}.`;
  }

  textarea.addEventListener('input', () => {
    active = 0;
    dismissedAt = -1; // typing on reopens it
    update();
  });
  textarea.addEventListener('click', update);
  textarea.addEventListener('blur', () => close());
  textarea.addEventListener('keydown', (e) => {
    if (el.hidden || items.length === 0 || e.isComposing || e.altKey || e.ctrlKey || e.metaKey) return;
    let used = true;
    if (e.key === 'ArrowDown') setActive((active + 1) % items.length);
    else if (e.key === 'ArrowUp') setActive((active - 1 + items.length) % items.length);
    else if ((e.key === 'Enter' && !e.shiftKey) || (e.key === 'Tab' && !e.shiftKey)) pick(active);
    else if (e.key === 'Escape') {
      dismissedAt = token?.start ?? -1;
      close();
      status.textContent = 'Suggestions closed.';
    } else used = false;
    if (used) {
      e.preventDefault();
      e.stopImmediatePropagation();
    }
  });
  // The list follows the room's members as they load (until the composer
  // is gone).
  let seen = false;
  const unsub = store.subscribe(['members', 'profilesVersion'], () => {
    if (!textarea.isConnected) {
      if (seen) unsub();
      return;
    }
    seen = true;
    if (!el.hidden && document.activeElement === textarea) update();
  });

  return { el: wrap, close };
}
