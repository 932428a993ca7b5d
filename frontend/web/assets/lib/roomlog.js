// The client's copy of one room's history. Every message carries its room's
// seq, which the server assigns gap-free and increasing, so the log keeps a
// contiguous window [lo, hi] of known messages: history pages extend it
// downwards, live messages extend it upwards, a message past hi + 1 reveals a
// gap to fetch, and anything seen twice (replay after a reconnect, the echo
// of an own send, an HTTP page overlapping the stream) is merged by id.

/** Normalises a message from the API or the socket. */
export function normalizeMessage(m) {
  return {
    ...m,
    id: Number(m.id),
    room_id: Number(m.room_id),
    seq: Number(m.seq),
    user_id: Number(m.user_id),
    body: m.deleted ? '' : String(m.body ?? ''),
    deleted: !!m.deleted,
    reactions: normalizeReactions(m.reactions),
  };
}

/**
 * Reactions as [{emoji, count, user_ids, me?}] whatever shape the server
 * used: a list of {emoji, count, users|user_ids, me} or a map emoji → count
 * or emoji → [user ids].
 */
export function normalizeReactions(r) {
  if (!r) return [];
  const list = Array.isArray(r)
    ? r
    : Object.entries(r).map(([emoji, v]) => (Array.isArray(v) ? { emoji, user_ids: v } : { emoji, count: v }));
  return list
    .map((x) => {
      const ids = (x.user_ids ?? x.users ?? []).map((u) => Number(typeof u === 'object' ? u.user_id ?? u.id : u));
      const count = Number(x.count ?? ids.length);
      const out = { emoji: String(x.emoji), count, user_ids: ids };
      if (typeof x.me === 'boolean') out.me = x.me;
      if (typeof x.reacted === 'boolean') out.me = x.reacted;
      return out;
    })
    .filter((x) => x.count > 0);
}

function sameMessage(a, b) {
  return (
    a.body === b.body &&
    a.deleted === b.deleted &&
    a.edited_at === b.edited_at &&
    a.reply_count === b.reply_count &&
    a.last_reply_at === b.last_reply_at &&
    !!a.pinned === !!b.pinned &&
    JSON.stringify(a.reactions) === JSON.stringify(b.reactions)
  );
}

/** One room's messages. */
export class RoomLog {
  /**
   * lastSeq, when known (the room list's last message), places an empty
   * window just after it: live messages then continue from there, and
   * history pages load below it.
   */
  constructor(roomId, lastSeq = null) {
    this.roomId = Number(roomId);
    this.bySeq = new Map();
    this.byId = new Map();
    this.lo = null; // lowest seq of the window
    this.hi = null; // highest seq of the window; every seq in [lo, hi] is held
    this.reachedStart = false; // the window starts at the room's first message
    this.loaded = false; // a page of history has been fetched
    this.version = 0; // bumps on every visible change
    // A message link far back (jumpTo) leaves the window short of the
    // room's live end: newer pages (after_seq=hi) extend it until they
    // join it; live messages meanwhile are held past the window.
    this.detached = false;
    this.liveEnd = null; // the highest seq known to exist while detached
    this._items = null;
    if (lastSeq != null) this.placeAt(Number(lastSeq));
  }

  /** Puts an empty window just after seq (used before any message is held). */
  placeAt(seq) {
    if (this.hi != null) return;
    this.hi = seq;
    this.lo = seq + 1;
    if (seq === 0) this.reachedStart = true;
    this._extend();
  }

  /** The seq to resume after (subscribe's after_seq), or null if unknown. */
  get afterSeq() {
    return this.hi;
  }

  /** Whether older messages may exist below the window. */
  get hasMoreBefore() {
    return !this.reachedStart && this.lo != null && this.lo > 1;
  }

  /** The window's messages, oldest first. */
  messages() {
    if (!this._items) {
      const out = [];
      if (this.hi != null) for (let s = this.lo; s <= this.hi; s++) out.push(this.bySeq.get(s));
      this._items = out;
    }
    return this._items;
  }

  /** The newest message held in the window, or null. */
  last() {
    return this.hi != null && this.hi >= this.lo ? this.bySeq.get(this.hi) ?? null : null;
  }

  /** Finds a message by id (in or beyond the window). */
  get(id) {
    return this.byId.get(Number(id)) ?? null;
  }

  _changed() {
    this._items = null;
    this.version++;
  }

  // Stores m; returns 'new', 'updated' or 'same'.
  _put(raw) {
    const m = normalizeMessage(raw);
    const old = this.byId.get(m.id) ?? this.bySeq.get(m.seq);
    if (old) {
      if (old.id !== m.id) this.byId.delete(old.id);
      // A replayed or echoed copy may lack fields the held one has.
      if (raw.reactions === undefined) m.reactions = old.reactions;
      if (sameMessage(old, m) && old.id === m.id) return 'same';
      this.byId.set(m.id, m);
      this.bySeq.set(m.seq, m);
      return 'updated';
    }
    this.byId.set(m.id, m);
    this.bySeq.set(m.seq, m);
    return 'new';
  }

  // Grows hi over messages already held past it (gap filled).
  _extend() {
    let grew = false;
    while (this.hi != null && this.bySeq.has(this.hi + 1)) {
      this.hi++;
      grew = true;
    }
    return grew;
  }

  /**
   * Adds a page from GET /rooms/:id/messages. kind is 'latest' (no cursor),
   * 'before' (before_seq=lo) or 'after' (after_seq=hi); the page is
   * gap-free. end says the server has nothing further in that direction
   * (no next cursor). Returns whether anything visible changed.
   */
  addPage(page, kind, end = false) {
    const changed = this._addPage(page, kind, end);
    // Forward pages (or anything else) that reach the live end join it.
    if (this.detached && this.hi != null && (this.hi >= (this.liveEnd ?? 0) || (kind === 'after' && end))) {
      this.detached = false;
      this.liveEnd = null;
    }
    return changed;
  }

  /**
   * Replaces the window with page, a page centred on a message far below
   * it (GET /rooms/:id/messages?around_seq=), or with the latest page
   * (latest=true: the window is at the live end again). Messages held
   * past the new window stay held (they join it as pages fill the way).
   */
  jumpTo(page, { latest = false, lastSeq = null } = {}) {
    let end = Math.max(this.liveEnd ?? 0, this.hi ?? 0, Number(lastSeq) || 0);
    for (const s of this.bySeq.keys()) if (s > end) end = s;
    const sorted = [...page].map(normalizeMessage).sort((a, b) => a.seq - b.seq);
    const top = sorted.length ? sorted.at(-1).seq : null;
    const keep = [...this.bySeq.values()].filter((m) => top != null && m.seq > top);
    this.bySeq.clear();
    this.byId.clear();
    this.lo = null;
    this.hi = null;
    this.reachedStart = false;
    this._addPage(page, latest ? 'latest' : 'around', latest);
    for (const m of keep) {
      this.bySeq.set(m.seq, m);
      this.byId.set(m.id, m);
    }
    if (this._extend()) this._changed();
    this.detached = !latest && this.hi != null && this.hi < end;
    this.liveEnd = this.detached ? end : null;
    this.loaded = true;
    this._changed();
  }

  _addPage(page, kind, end = false) {
    const raws = [...page].sort((a, b) => Number(a.seq) - Number(b.seq));
    const msgs = raws.map(normalizeMessage);
    let changed = false;
    for (const raw of raws) {
      const r = this._put(raw);
      if (r !== 'same' && this._inWindow(Number(raw.seq))) changed = true;
    }
    if (msgs.length > 0) {
      const a = msgs[0].seq;
      const b = msgs.at(-1).seq;
      if (this.hi == null) {
        this.lo = a;
        this.hi = b;
        changed = true;
      } else if (a <= this.hi + 1 && b >= this.lo - 1) {
        if (a < this.lo) {
          this.lo = a;
          changed = true;
        }
        if (b > this.hi) {
          this.hi = b;
          changed = true;
        }
      }
      if (this._extend()) changed = true;
    } else if (kind === 'latest' && this.hi == null) {
      this.lo = 1;
      this.hi = 0;
      changed = true;
    }
    if (kind === 'before' || kind === 'latest') {
      if ((end || msgs.length === 0) && kind === 'before') this.reachedStart = true;
      if (kind === 'latest' && end) this.reachedStart = true;
      if (this.lo != null && this.lo <= 1) this.reachedStart = true;
    }
    if (kind === 'latest' || kind === 'before') this.loaded = true;
    if (kind === 'around' && this.lo != null && this.lo <= 1) this.reachedStart = true;
    if (changed) this._changed();
    return changed;
  }

  _inWindow(seq) {
    return this.hi != null && seq >= this.lo && seq <= this.hi;
  }

  /**
   * Adds a live message (socket `message`, `ack` or a replay). Returns
   * {status, gap, drained}: status is 'appended', 'updated', 'duplicate', 'old'
   * (below the window, nothing to show) or 'gap', in which case gap =
   * {after_seq, before_seq} names the missing range to fetch; drained
   * (with 'appended') lists the held messages the append made contiguous.
   */
  live(raw) {
    const m = normalizeMessage(raw);
    if (this.byId.has(m.id) || this._inWindow(m.seq)) {
      const r = this._put(raw);
      if (r === 'same') return { status: 'duplicate', gap: null };
      if (this._inWindow(m.seq)) this._changed();
      return { status: 'updated', gap: null };
    }
    if (this.hi == null) {
      // Nothing known yet: hold it until the first page places the window.
      this._put(raw);
      return { status: 'gap', gap: { after_seq: null, before_seq: m.seq } };
    }
    if (m.seq < this.lo) return { status: 'old', gap: null };
    this._put(raw);
    if (this.detached) this.liveEnd = Math.max(this.liveEnd ?? 0, m.seq);
    if (m.seq === this.hi + 1) {
      const from = this.hi + 2;
      this._extend();
      this._changed();
      // Messages held past a gap that this one closed are new to the
      // reader too: they are reported so they can be announced.
      const drained = [];
      for (let s = from; s <= this.hi; s++) drained.push(this.bySeq.get(s));
      return { status: 'appended', gap: null, drained };
    }
    return { status: 'gap', gap: { after_seq: this.hi, before_seq: this.firstAhead() } };
  }

  /** The lowest seq held past the window (the end of a gap), or null. */
  firstAhead() {
    let min = null;
    if (this.hi == null) return null;
    for (const s of this.bySeq.keys()) if (s > this.hi + 1 && (min == null || s < min)) min = s;
    return min;
  }

  /** Whether messages past a gap are waiting for it to be filled. */
  get hasGap() {
    return this.firstAhead() != null;
  }

  /** Replaces a message's content (message_updated); false if unknown. */
  update(raw) {
    const m = normalizeMessage(raw);
    if (!this.byId.has(m.id)) return false;
    const r = this._put(raw);
    if (r !== 'same') this._changed();
    return r !== 'same';
  }

  /** Turns a message into a tombstone (message_deleted). */
  markDeleted(id) {
    const m = this.byId.get(Number(id));
    if (!m || m.deleted) return false;
    const t = { ...m, deleted: true, body: '', reactions: [], pinned: false, pinned_by: null, pinned_at: null };
    this.byId.set(t.id, t);
    this.bySeq.set(t.seq, t);
    this._changed();
    return true;
  }

  /**
   * Applies a reaction change. Either reactions (the message's full new
   * list) or {emoji, user_id, added} is given.
   */
  applyReaction(messageId, { reactions, emoji, user_id, added, count }, myId = null) {
    const m = this.byId.get(Number(messageId));
    if (!m) return false;
    let list;
    if (reactions !== undefined) {
      list = normalizeReactions(reactions);
    } else {
      list = m.reactions.map((r) => ({ ...r, user_ids: [...r.user_ids] }));
      let r = list.find((x) => x.emoji === emoji);
      if (!r) {
        r = { emoji, count: 0, user_ids: [] };
        list.push(r);
      }
      const uid = Number(user_id);
      const had = r.user_ids.includes(uid);
      if (added && !had) r.user_ids.push(uid);
      if (!added && had) r.user_ids = r.user_ids.filter((x) => x !== uid);
      if (typeof count === 'number') r.count = count;
      else if (added && !had) r.count++;
      else if (!added && had) r.count--;
      if (myId != null && uid === Number(myId)) r.me = !!added;
      list = list.filter((x) => x.count > 0);
    }
    const next = { ...m, reactions: list };
    this.byId.set(next.id, next);
    this.bySeq.set(next.seq, next);
    this._changed();
    return true;
  }
}

/** Whether the user reacted with r (by the server's me flag or user ids). */
export function reactedByMe(r, myId) {
  if (typeof r.me === 'boolean') return r.me;
  return r.user_ids.includes(Number(myId));
}
