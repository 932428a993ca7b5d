// Mentions and group DMs, the pure parts: the @token at the caret, ranking
// the people to offer, splitting a body around its mentions, whether a
// message names the viewer, and a group's name. No DOM (tested in Node).

/** The username alphabet (chat-service's rule). */
const NAME = /[A-Za-z0-9_.-]/;

/** The words that mention everyone in a room, offered first when they match. */
export const ROOM_WORDS = [
  { special: 'room', username: 'room', label: 'Notify everyone in this room' },
  { special: 'here', username: 'here', label: 'Notify everyone in this room' },
];

/**
 * The @token being typed at caret, or null: {start (index of the @), query
 * (what follows it up to the caret)}. An @ counts at the start or after a
 * character no username has (so ann@example.com is none), as on the server.
 */
export function mentionAt(text, caret = String(text ?? '').length) {
  const s = String(text ?? '');
  const end = Math.max(0, Math.min(Number(caret) || 0, s.length));
  let i = end - 1;
  while (i >= 0 && NAME.test(s[i])) i--;
  if (i < 0 || s[i] !== '@') return null;
  if (i > 0 && (NAME.test(s[i - 1]) || s[i - 1] === '@')) return null;
  const query = s.slice(i + 1, end);
  if (query.length > 64) return null;
  return { start: i, query };
}

/**
 * Puts @username in place of the token from start to caret, with a space
 * after it; answers {text, caret}.
 */
export function applyMention(text, start, caret, username) {
  const s = String(text ?? '');
  const after = s.slice(caret).replace(/^[A-Za-z0-9_.-]*/, '');
  const insert = `@${username}${after.startsWith(' ') ? '' : ' '}`;
  const out = s.slice(0, start) + insert + after;
  return { text: out, caret: start + insert.length + (after.startsWith(' ') ? 1 : 0) };
}

function score(p, q) {
  if (!q) return 3;
  const u = String(p.username ?? '').toLowerCase();
  const d = String(p.display_name ?? '').toLowerCase();
  if (u.startsWith(q)) return 0;
  if (d.startsWith(q) || d.split(/\s+/).some((w) => w.startsWith(q))) return 1;
  if (u.includes(q) || d.includes(q)) return 2;
  return -1;
}

/**
 * The people to offer for query, at most limit: @room/@here when they
 * match (and the room allows them), then members of the room, then others
 * (the directory, for public rooms), each group by how well the name
 * matches (username prefix, display-name prefix, anywhere), then by
 * username. The viewer and repeats are left out. Items: {username,
 * display_name?, user_id?, special?, member?}.
 */
export function rankCandidates(query, { members = [], others = [], me = null, roomWords = true, limit = 8 } = {}) {
  const q = String(query ?? '').toLowerCase();
  const out = [];
  if (roomWords) for (const w of ROOM_WORDS) if (w.username.startsWith(q)) out.push({ ...w });
  const seen = new Set();
  const pick = (list, member) => {
    const scored = [];
    for (const p of list) {
      const id = Number(p.user_id ?? p.id);
      const name = String(p.username ?? '');
      if (!name || seen.has(name.toLowerCase()) || (me && (id === Number(me.id) || name.toLowerCase() === String(me.username ?? '').toLowerCase()))) continue;
      const sc = score(p, q);
      if (sc < 0) continue;
      seen.add(name.toLowerCase());
      scored.push({ sc, item: { user_id: Number.isFinite(id) ? id : null, username: name, display_name: p.display_name ?? '', member } });
    }
    scored.sort((a, b) => a.sc - b.sc || a.item.username.localeCompare(b.item.username, undefined, { sensitivity: 'base' }));
    return scored.map((x) => x.item);
  };
  out.push(...pick(members, true), ...pick(others, false));
  return out.slice(0, limit);
}

/** Whether msg mentions the viewer: the server's fields when present, else the body. */
export function mentionsMe(msg, me) {
  if (!msg || !me || msg.deleted) return false;
  if (Array.isArray(msg.mentions) || typeof msg.mentions_room === 'boolean') {
    if ((msg.mentions ?? []).some((id) => Number(id) === Number(me.id))) return true;
    return !!msg.mentions_room && Number(msg.user_id) !== Number(me.id);
  }
  return bodyMentions(msg.body, me.username);
}

function bodyMentions(body, username) {
  return splitMentions(body).some((p) => p.mention && (p.room || p.name.toLowerCase() === String(username ?? '').toLowerCase()));
}

/**
 * Splits text into parts: {text} and {text, mention: true, name, room}
 * for each @token by the server's rule (trailing dots end the sentence).
 * When names (lower-case usernames) is given, only those tokens (and
 * @room/@here) count as mentions; the rest stay text.
 */
export function splitMentions(text, names = null) {
  const s = String(text ?? '');
  const parts = [];
  let plain = '';
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (c === '@' && (i === 0 || (!NAME.test(s[i - 1]) && s[i - 1] !== '@'))) {
      let j = i + 1;
      while (j < s.length && NAME.test(s[j])) j++;
      let name = s.slice(i + 1, j);
      name = name.replace(/\.+$/, '');
      const lower = name.toLowerCase();
      const room = lower === 'room' || lower === 'here';
      if (name && (room || !names || names.has(lower))) {
        if (plain) parts.push({ text: plain });
        plain = '';
        parts.push({ text: `@${name}`, mention: true, name, room });
        i += 1 + name.length;
        continue;
      }
    }
    plain += c;
    i++;
  }
  if (plain) parts.push({ text: plain });
  return parts;
}

/**
 * A group DM's title: its other members' names (display names when
 * known), "ann, bob and cy", longer lists cut to three and a count.
 */
export function groupTitle(names) {
  const n = names.filter(Boolean);
  if (n.length === 0) return 'Group';
  if (n.length === 1) return n[0];
  if (n.length <= 3) return `${n.slice(0, -1).join(', ')} and ${n.at(-1)}`;
  return `${n.slice(0, 3).join(', ')} and ${n.length - 3} more`;
}

/** Whether a room is a conversation (1:1 or group DM) rather than a channel. */
export function isDirect(room) {
  return room?.kind === 'dm' || room?.kind === 'group';
}

/** The most people a group DM may name besides oneself (the server's limit). */
export const GROUP_MAX = 8;

/**
 * What POST /dms gets for the chosen people: one person is a 1:1 DM, 2–8 a
 * group; more is an error (a string to show).
 */
export function dmRequest(people) {
  const ids = [...new Set(people.map((p) => Number(p.id ?? p.user_id)))];
  if (ids.length === 0) return { error: 'Pick at least one person.' };
  if (ids.length === 1) {
    const p = people[0];
    return { body: { user_id: ids[0], ...(p.username ? { username: String(p.username) } : {}) } };
  }
  if (ids.length > GROUP_MAX) return { error: `A group conversation can have at most ${GROUP_MAX} other people; remove ${ids.length - GROUP_MAX}.` };
  return { body: { user_ids: ids } };
}
