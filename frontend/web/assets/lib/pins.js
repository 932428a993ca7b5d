// Pinned messages, the pure part: a room's pin list kept newest pin first
// as message_updated frames come (a message is in it exactly while it is
// pinned and not deleted), and the words the SPA uses for pins.

/** The most pins a room holds (the server refuses the 51st). */
export const MAX_PINS = 50;

/** Whether m is pinned (a tombstone never is). */
export function isPinned(m) {
  return !!m?.pinned && !m.deleted;
}

function pinTime(m) {
  const t = Date.parse(m?.pinned_at ?? '');
  return Number.isFinite(t) ? t : 0;
}

/** Newest pin first; equal times by id, newest message first (as the server). */
export function comparePins(a, b) {
  return pinTime(b) - pinTime(a) || Number(b.id) - Number(a.id);
}

/**
 * The pin list after msg changed (a message_updated or a pin answer): msg
 * replaces its old copy, is dropped when no longer pinned, and takes its
 * place by pin time when it is. The list given is not changed; the one
 * returned is the same list when nothing changed for it.
 */
export function applyPin(list, msg) {
  const id = Number(msg?.id);
  const cur = list ?? [];
  const at = cur.findIndex((m) => Number(m.id) === id);
  if (!isPinned(msg)) return at < 0 ? cur : cur.filter((_, i) => i !== at);
  const rest = at < 0 ? cur : cur.filter((_, i) => i !== at);
  const out = [...rest, msg];
  out.sort(comparePins);
  return out;
}

/** The list without message id (deleted). */
export function dropPin(list, id) {
  const cur = list ?? [];
  return cur.some((m) => Number(m.id) === Number(id)) ? cur.filter((m) => Number(m.id) !== Number(id)) : cur;
}

/** "3 pinned messages", "1 pinned message", "No pinned messages". */
export function pinCountText(n) {
  const c = Number(n) || 0;
  if (c === 0) return 'No pinned messages';
  return `${c} pinned ${c === 1 ? 'message' : 'messages'}`;
}

/** What the pin action of a message says: "Pin message" or "Unpin message". */
export function pinActionLabel(m) {
  return isPinned(m) ? 'Unpin message' : 'Pin message';
}

/** "Pinned by ann" ("Pinned" when the pinner is not known). */
export function pinnedByText(m, name) {
  const who = name || m?.pinned_by?.username || '';
  return who ? `Pinned by ${who}` : 'Pinned';
}
