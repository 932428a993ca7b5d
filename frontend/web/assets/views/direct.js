// Conversations rather than channels: 1:1 DMs and group DMs (kind
// 'group', named by their other members), and message bodies with their
// @mentions marked. DOM only from text (textContent), never HTML.

import { h } from '../ui/dom.js';
import { avatar } from '../ui/widgets.js';
import { displayName, initials, colorSlot } from '../lib/format.js';
import { compact, parse, render, renderInline } from '../lib/markdown.js';
import { groupTitle, isDirect, mentionsMe, splitMentions } from '../lib/mentions.js';

export { isDirect };

/** The other members of a group: [{user_id, username}] (group_users, else the room's name). */
export function groupPeople(room) {
  if (Array.isArray(room?.group_users) && room.group_users.length) return room.group_users;
  return String(room?.name ?? '').split(',').map((s) => s.trim()).filter(Boolean).map((username) => ({ user_id: null, username }));
}

/** The title of a DM (the peer) or a group (its other members), with display names. */
export function directTitle(ctx, room) {
  if (room?.kind === 'dm') return displayName(ctx.profiles.get(room.dm_user?.user_id), room.dm_user?.username ?? room.name);
  if (room?.kind === 'group') return groupTitle(groupPeople(room).map((u) => (u.user_id != null ? displayName(ctx.profiles.get(u.user_id), u.username) : u.username)));
  return room?.name ?? '';
}

/** "@bob, @cy": a group's usernames (the header's second line). */
export function groupHandles(room) {
  return groupPeople(room).map((u) => `@${u.username}`).join(', ');
}

/** Stacked initials of a group's first two other members. */
export function groupAvatar(ctx, room, size = 'xs') {
  const people = groupPeople(room).slice(0, 2);
  return h('span', { class: `group-avatar group-avatar-${size}`, 'aria-hidden': 'true', testid: 'group-avatar' },
    ...people.map((u) => {
      const name = u.user_id != null ? displayName(ctx.profiles.get(u.user_id), u.username) : u.username;
      return h('span', { class: `avatar avatar-${size} c${colorSlot(u.user_id ?? u.username)}` }, h('span', { class: 'avatar-initials', text: initials(name) }));
    }));
}

/** The lead of a conversation: the peer's avatar (with presence) or the group's. */
export function directLead(ctx, room, title, size, online) {
  return room.kind === 'group' ? groupAvatar(ctx, room, size) : avatar(ctx, room.dm_user?.user_id, title, size, online);
}

/**
 * A message body as DOM: formatted (lib/markdown.js: emphasis, code,
 * quotes, lists, http/https/mailto links) with its @mentions marked — the
 * viewer's (and @room/@here from someone else) highlighted; mentions in
 * code stay code. With the server's fields, only what it resolved counts.
 * o.compact (a length) gives one line of inline formatting cut to it, with
 * links as text: for rows that are links themselves (the Mentions view).
 */
export function mentionBody(ctx, msg, o = {}) {
  const me = ctx.api.user;
  const resolved = Array.isArray(msg.mentions);
  const names = resolved ? new Set(msg.mentions.map((id) => Number(id) === me?.id ? me.username : ctx.profiles.get(id)?.username).filter(Boolean).map((n) => n.toLowerCase())) : null;
  const meName = String(me?.username ?? '').toLowerCase();
  const text = (s, kind) => {
    if (kind === 'code' || !s.includes('@')) return null;
    const frag = document.createDocumentFragment();
    for (const p of splitMentions(s, names)) {
      if (!p.mention || (p.room && resolved && !msg.mentions_room)) {
        frag.append(document.createTextNode(p.text));
        continue;
      }
      const mine = p.room ? Number(msg.user_id) !== me?.id : p.name.toLowerCase() === meName;
      frag.append(h('span', { class: ['mention', mine && 'mention-me'], testid: mine ? 'mention-me' : 'mention', text: p.text }));
    }
    return frag;
  };
  const ast = parse(msg.body);
  if (o.compact) return renderInline(compact(ast, o.compact), document.createDocumentFragment(), { text, links: false });
  return render(ast, { text });
}

export { mentionsMe };
