// Threads and message links, the pure part: which messages the room
// timeline shows, who replied to a root (from the replies the room log
// holds), a thread's replies kept in seq order without duplicates, the
// followed threads' unread counts, and the paths of message links.

/** Whether m is a reply (it belongs in its thread, not the timeline). */
export function isReply(m) {
  return m?.thread_root_id != null && Number(m.thread_root_id) > 0;
}

/**
 * The last repliers of each root, newest first, at most max distinct user
 * ids, from the replies among msgs (a room log's window, oldest first:
 * replies always come after their root, so a held root's replies are held).
 * Returns Map rootId → [user ids].
 */
export function repliersByRoot(msgs, max = 3) {
  const out = new Map();
  for (let i = msgs.length - 1; i >= 0; i--) {
    const m = msgs[i];
    if (!isReply(m) || m.deleted) continue;
    const root = Number(m.thread_root_id);
    let list = out.get(root);
    if (!list) {
      list = [];
      out.set(root, list);
    }
    const uid = Number(m.user_id);
    if (list.length < max && !list.includes(uid)) list.push(uid);
  }
  return out;
}

/** "1 reply", "5 replies". */
export function replyLabel(n) {
  const c = Number(n) || 0;
  return `${c} ${c === 1 ? 'reply' : 'replies'}`;
}

/**
 * Adds replies to a thread's list (seq order, one per id; a later copy of
 * the same id replaces the held one). Returns a new array.
 */
export function mergeReplies(list, more) {
  const byId = new Map(list.map((m) => [Number(m.id), m]));
  for (const m of more) {
    if (m == null) continue;
    byId.set(Number(m.id), m);
  }
  return [...byId.values()].sort((a, b) => Number(a.seq) - Number(b.seq));
}

/** The sum of unread replies over followed threads. */
export function totalUnread(threads) {
  return (threads ?? []).reduce((n, t) => n + Math.max(0, Number(t.unread_replies) || 0), 0);
}

/**
 * A followed thread's entry after a live reply: someone else's reply adds
 * one unread (unless the thread is open and read), one's own does not.
 */
export function bumpThread(threads, reply, { meId, openRootId = null } = {}) {
  const root = Number(reply.thread_root_id);
  let found = false;
  const next = (threads ?? []).map((t) => {
    if (Number(t.root?.id) !== root) return t;
    found = true;
    const mine = Number(reply.user_id) === Number(meId);
    const unread = mine || openRootId === root ? Number(t.unread_replies) || 0 : (Number(t.unread_replies) || 0) + 1;
    return { ...t, unread_replies: unread };
  });
  return { threads: next, found };
}

/** The path of a message's link: its room, scrolled to it (a reply opens its thread). */
export function messagePath(m) {
  return `/rooms/${Number(m.room_id)}?m=${Number(m.id)}`;
}

/** The absolute URL of a message's link. */
export function messageUrl(origin, m) {
  return `${String(origin).replace(/\/+$/, '')}${messagePath(m)}`;
}

/** A ?m= value that may name a message: a positive safe integer, else null. */
export function messageParam(v) {
  if (typeof v !== 'string' && typeof v !== 'number') return null;
  const s = String(v);
  if (!/^\d{1,18}$/.test(s)) return null;
  const n = Number(s);
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}
