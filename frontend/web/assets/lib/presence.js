// Who is online, per room, from the frames of docs/PROTOCOL.md (presence):
// a snapshot after subscribe (every user while the room has at most CAP
// online; past CAP the bare count, as the first frame of the room), then
// `presence_delta` frames while the room has at most CAP online, and bare
// counts (`presence` without `online`) for bigger rooms. (A `truncated`
// snapshot, from servers before the count-only one, is still read as a big
// room.) In a big
// room nobody's presence is known from the frames alone: what a snapshot
// listed, what a delta said and what the `?user_ids=` query answered is
// remembered per user, and anyone else is 'unknown'. No DOM, no I/O: the
// ChatClient feeds it and the views ask it.

/** The most users a presence frame lists (DESIGN.md §14). */
export const CAP = 200;

function uid(u) {
  const n = Number(u?.user_id);
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

function cleanCount(n, fallback) {
  const c = Number(n);
  return Number.isSafeInteger(c) && c >= 0 ? c : fallback;
}

/**
 * One room: users (user_id → {user_id, username}) is every online user when
 * big is false; when big, it holds those known online and offline holds
 * those known offline. gen counts the socket frames applied, so an HTTP
 * answer older than a frame does not undo it.
 */
function emptyRoom() {
  return { users: new Map(), offline: new Set(), count: 0, big: false, truncated: false, gen: 0 };
}

export class Presence {
  constructor() {
    this.rooms = new Map(); // roomId → room
  }

  /** The room's state, or null when nothing is known about it. */
  room(roomId) {
    return this.rooms.get(Number(roomId)) ?? null;
  }

  _room(roomId) {
    const rid = Number(roomId);
    let r = this.rooms.get(rid);
    if (!r) {
      r = emptyRoom();
      this.rooms.set(rid, r);
    }
    return r;
  }

  /** Whether a room is known. */
  has(roomId) {
    return this.rooms.has(Number(roomId));
  }

  /** Forgets one room, or every room when roomId is omitted. */
  forget(roomId) {
    if (roomId === undefined) this.rooms.clear();
    else this.rooms.delete(Number(roomId));
  }

  /** The socket generation of a room (see applyHttp and learn). */
  gen(roomId) {
    return this.room(roomId)?.gen ?? 0;
  }

  /**
   * Applies one socket frame (presence or presence_delta); returns the
   * room id it changed, or null when the frame is not presence.
   */
  apply(frame) {
    if (!frame || (frame.type !== 'presence' && frame.type !== 'presence_delta')) return null;
    const rid = Number(frame.room_id);
    if (!Number.isSafeInteger(rid) || rid <= 0) return null;
    const r = this._room(rid);
    r.gen++;
    if (frame.type === 'presence_delta') this._delta(r, frame);
    else if (Array.isArray(frame.online)) this._snapshot(r, frame.online, frame.count, !!frame.truncated);
    else this._count(r, frame.count);
    return rid;
  }

  /**
   * Applies a full or first page of the online list fetched over HTTP
   * ({online, next_cursor, count}) unless a frame came since gen was read.
   */
  applyHttp(roomId, res, gen) {
    const r = this._room(roomId);
    if (r.gen !== gen) return false;
    const online = Array.isArray(res?.online) ? res.online : [];
    const more = res?.next_cursor != null && res.next_cursor !== '';
    this._snapshot(r, online, res?.count, more);
    return true;
  }

  /**
   * Records the answer to `?user_ids=`: each asked id is online when the
   * answer lists it, offline otherwise. The count is taken only when no
   * frame came since gen was read (a frame's count is newer).
   */
  learn(roomId, askedIds, res, gen) {
    const r = this._room(roomId);
    const on = new Map();
    for (const u of Array.isArray(res?.online) ? res.online : []) {
      const id = uid(u);
      if (id != null) on.set(id, { user_id: id, username: String(u.username ?? '') });
    }
    for (const raw of askedIds) {
      const id = Number(raw);
      if (!Number.isSafeInteger(id) || id <= 0) continue;
      if (on.has(id)) {
        r.users.set(id, on.get(id));
        r.offline.delete(id);
      } else if (r.big) {
        r.users.delete(id);
        r.offline.add(id);
      } else {
        r.users.delete(id);
      }
    }
    if (r.gen === gen) r.count = cleanCount(res?.count, r.count);
  }

  _snapshot(r, online, count, truncated) {
    r.users = new Map();
    r.offline = new Set();
    for (const u of online) {
      const id = uid(u);
      if (id != null) r.users.set(id, { user_id: id, username: String(u.username ?? '') });
    }
    r.count = cleanCount(count, r.users.size);
    r.truncated = truncated || r.count > CAP;
    r.big = r.truncated;
  }

  _count(r, count) {
    const c = cleanCount(count, null);
    if (c == null) return;
    r.count = c;
    // A count alone is how a room past CAP is told; what was learned of
    // single users stays as the best guess until asked again.
    if (c > CAP) r.big = true;
  }

  _delta(r, frame) {
    const joined = Array.isArray(frame.joined) ? frame.joined : [];
    const left = Array.isArray(frame.left) ? frame.left : [];
    // Leaves first, then joins: someone in both lists left and came back
    // within one batch (a reconnect), and is online.
    for (const u of left) {
      const id = uid(u);
      if (id == null) continue;
      r.users.delete(id);
      if (r.big) r.offline.add(id);
    }
    for (const u of joined) {
      const id = uid(u);
      if (id == null) continue;
      r.users.set(id, { user_id: id, username: String(u.username ?? '') });
      r.offline.delete(id);
    }
    r.count = cleanCount(frame.count, r.big ? r.count : r.users.size);
    if (r.count > CAP) r.big = true;
  }

  /**
   * Whether a user is online in a room: true, false, or 'unknown' (a room
   * never heard of, or a big room where the user was not seen).
   */
  online(roomId, userId) {
    const r = this.room(roomId);
    const id = Number(userId);
    if (!r) return 'unknown';
    if (r.users.has(id)) return true;
    if (!r.big) return false;
    return r.offline.has(id) ? false : 'unknown';
  }

  /** How many are online in the room (0 when unknown). */
  count(roomId) {
    return this.room(roomId)?.count ?? 0;
  }

  /** Whether the room is past CAP: its list is partial. */
  big(roomId) {
    return !!this.room(roomId)?.big;
  }

  /** The users known to be online, by username. */
  list(roomId) {
    const r = this.room(roomId);
    if (!r) return [];
    return [...r.users.values()].sort((a, b) => a.username.localeCompare(b.username));
  }

  /**
   * Whether a small room's list disagrees with its count: a delta was lost
   * or came before its snapshot. The ChatClient fetches the list again.
   */
  drifted(roomId) {
    const r = this.room(roomId);
    return !!r && !r.big && r.users.size !== r.count;
  }

  /** The ids among userIds whose presence in a big room is not known. */
  unknownAmong(roomId, userIds) {
    return userIds.map(Number).filter((id) => this.online(roomId, id) === 'unknown');
  }

  /** A plain summary for the store: {count, big, truncated}. */
  summary(roomId) {
    const r = this.room(roomId);
    return r ? { count: r.count, big: r.big, truncated: r.truncated } : null;
  }
}
