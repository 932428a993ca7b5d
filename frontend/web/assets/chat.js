// ChatClient ties the API, the socket and the store together: it keeps the
// room list, one RoomLog per room, the outbox of unacknowledged sends,
// typing and presence, and turns socket frames into state. It touches no
// DOM, so its behaviour (resume without duplicates or holes, retries) is
// tested in Node with a fake socket and a fake API.

import { RoomLog, reactedByMe } from './lib/roomlog.js';
import { Outbox } from './lib/outbox.js';
import { backoffDelay } from './lib/backoff.js';
import { isBlank } from './lib/format.js';
import { MentionTracker } from './lib/mentiontrack.js';
import { Presence, CAP as PRESENCE_CAP } from './lib/presence.js';
import { onlineRequest, ONLINE_IDS_MAX } from './api.js';

const PAGE = 50;
const GAP_PAGE = 200;
const TYPING_TTL_MS = 6_000;
const TYPING_THROTTLE_MS = 3_000;
const ACK_TIMEOUT_MS = 10_000;
// A hole in the live stream is usually a message still on its way: chat
// replicas deliver their own events at once and the others' through NATS, so
// seqs committed close together on two replicas can arrive swapped. Wait this
// long for it before asking the server, so a busy room does not make every
// client fetch at once. (What follows the hole is held back until it closes,
// so this bounds the extra wait when a message really is missing.)
const GAP_GRACE_MS = 500;
// A big room's members shown in a list are asked about at most this often
// (and again after each count frame, which the server sends at most this
// often too).
const PRESENCE_ASK_MS = 2_000;
// After a reconnect each subscribed room's snapshot comes on the socket;
// the rooms still without one after this long are fetched over HTTP.
const SNAPSHOT_WAIT_MS = 5_000;
// A small room whose list and count disagree is fetched again, at most
// this often.
const PRESENCE_RESYNC_MS = 10_000;

/** Errors a resend cannot fix: the message is marked failed. */
const PERMANENT = new Set([
  'empty_body',
  'body_too_long',
  'invalid_client_msg_id',
  'not_found',
  'room_not_found',
  'forbidden',
  'not_member',
  'room_archived',
  'invalid_files',
  'validation',
  'invalid',
]);

function sortRooms(rooms) {
  const rank = (r) => (r.kind === 'dm' || r.kind === 'group' ? 2 : r.is_member ? 0 : 1);
  return [...rooms].sort((a, b) => {
    if (rank(a) !== rank(b)) return rank(a) - rank(b);
    if (a.is_default !== b.is_default) return a.is_default ? -1 : 1;
    return String(a.name).localeCompare(String(b.name), undefined, { sensitivity: 'base' });
  });
}

/**
 * Store keys it maintains: rooms (array), currentRoomId, typing ({roomId:
 * [{user_id, username, until}]}), presence ({roomId: {count, big,
 * truncated}}, replaced on every change; who is online is asked through
 * isOnline, backed by lib/presence.js), presenceStale (true from a lost socket until presence is fetched again
 * after the reconnect: who is online is unknown meanwhile), invited
 * ({roomId: {by}}: rooms someone else added the user to, live, not opened
 * since), members ({roomId: [...]}), and 'log' (touched with the room id in
 * logVersions when a RoomLog or the outbox changes).
 */
export class ChatClient {
  constructor({ api, store, now = () => Date.now(), setTimer = (f, ms) => setTimeout(f, ms), clearTimer = (id) => clearTimeout(id), outbox }) {
    this.api = api;
    this.store = store;
    this.now = now;
    this.setTimer = setTimer;
    this.clearTimer = clearTimer;
    this.socket = null;
    this.logs = new Map();
    this.outbox = outbox ?? new Outbox({ now });
    this.gapFills = new Map(); // roomId → promise
    this.gapTimers = new Map(); // roomId → timer of a pending live-gap check
    this.typingSentAt = new Map();
    this.memberChanges = new Map(); // roomId → member_joined/left frames seen (loadMembers refetches across one)
    this.uncounted = new Set(); // ids of deleted messages already taken out of an unread count
    this.readingRoom = null; // the room whose live end the user is looking at
    this.flushTimer = null;
    this.typingTimer = null;
    this.loadingRooms = null;
    /** Called with (message, room) for each new message from someone else. */
    this.onMessage = null;
    /**
     * Called with (message, room) once for each message that joins a room's
     * live end (one's own included, once acknowledged); never for history.
     */
    this.onLive = null;
    /** Called with (room, by) when someone else adds the user to a room (by: {user_id, username} or null). */
    this.onInvited = null;
    this.selfJoins = new Set(); // rooms this client asked to join, create or open: not invitations
    this.presenceRefresh = 0; // counts reconnects, so an older refresh cannot end a newer outage
    this.presence = new Presence();
    this.presenceWatch = new Map(); // roomId → {ids, askedAt, timer, stale, inflight}: big-room users shown
    this.awaitingSnapshots = null; // rooms whose snapshot is due after a reconnect
    this.snapshotTimer = null;
    this.resyncedAt = new Map(); // roomId → when a drifted list was last fetched
    /** Called with (message, room) for a mention of the user (see lib/mentiontrack.js). */
    this.onMention = null;
    this.mentionTrack = new MentionTracker(this);
    store.set({ rooms: [], currentRoomId: null, typing: {}, presence: {}, presenceStale: false, invited: {}, members: {}, logVersions: {} });
  }

  /** Connects a ChatSocket (created by the caller with this.socketHandlers()). */
  attach(socket) {
    this.socket = socket;
  }

  /** Callbacks to give the ChatSocket. */
  socketHandlers() {
    return {
      afterSeq: (roomId) => this.logs.get(Number(roomId))?.afterSeq ?? null,
      onEvent: (ev) => this.handle(ev),
    };
  }

  get me() {
    return this.api.user;
  }

  // ---- rooms ---------------------------------------------------------------

  room(id) {
    return this.store.state.rooms.find((r) => r.id === Number(id)) ?? null;
  }

  log(id) {
    const rid = Number(id);
    let log = this.logs.get(rid);
    if (!log) {
      log = new RoomLog(rid);
      this.logs.set(rid, log);
    }
    return log;
  }

  _touchLog(roomId) {
    const id = Number(roomId);
    const v = { ...this.store.state.logVersions, [id]: (this.store.state.logVersions[id] ?? 0) + 1 };
    this.store.set({ logVersions: v });
  }

  _setRooms(rooms) {
    this.store.set({ rooms: sortRooms(rooms) });
  }

  _upsertRoom(room) {
    const rooms = this.store.state.rooms.filter((r) => r.id !== room.id);
    const old = this.room(room.id);
    rooms.push({ unread: 0, is_member: false, last_message: null, member_count: 0, ...old, ...room });
    this._setRooms(rooms);
  }

  _patchRoom(id, patch) {
    const rid = Number(id);
    const rooms = this.store.state.rooms.map((r) => (r.id === rid ? { ...r, ...patch } : r));
    this._setRooms(rooms);
  }

  _removeRoom(id) {
    const rid = Number(id);
    this._setRooms(this.store.state.rooms.filter((r) => r.id !== rid));
    this.socket?.unsubscribe(rid);
    this.logs.delete(rid);
    this._forgetPresence(rid);
  }

  /** Loads the room list (every page) and subscribes to the member rooms. */
  loadRooms() {
    if (!this.loadingRooms) {
      this.loadingRooms = this._loadRooms().finally(() => {
        this.loadingRooms = null;
      });
    }
    return this.loadingRooms;
  }

  async _loadRooms() {
    const all = [];
    let cursor = null;
    for (let i = 0; i < 20; i++) {
      const page = await this.api.get('/api/chat/rooms', { limit: 200, cursor });
      all.push(...(page.rooms ?? []));
      cursor = page.next_cursor;
      if (cursor == null || cursor === '' || (page.rooms ?? []).length === 0) break;
    }
    const rooms = all.map((r) => {
      const id = Number(r.id);
      const log = this.logs.get(id);
      const room = { ...r, id };
      // The list is a snapshot; what the socket delivered since may be newer.
      const held = log?.last();
      if (held && (!room.last_message || held.seq > room.last_message.seq)) room.last_message = held;
      return room;
    });
    this._setRooms(rooms);
    for (const r of rooms) {
      if (r.is_member) {
        const log = this.log(r.id);
        log.placeAt(Number(r.last_seq ?? r.last_message?.seq ?? 0));
        this.socket?.subscribe(r.id);
      }
    }
    return rooms;
  }

  /**
   * Opens a room: fetches it when unknown (a deep link), loads its latest
   * page once, subscribes, and loads members and presence.
   */
  async openRoom(id) {
    const rid = Number(id);
    this.store.set({ currentRoomId: rid });
    this.seen(rid);
    let room = this.room(rid);
    if (!room) {
      room = await this.api.get(`/api/chat/rooms/${rid}`);
      room.id = Number(room.id);
      this._upsertRoom(room);
      room = this.room(rid);
    }
    const log = this.log(rid);
    if (!log.loaded) {
      const page = await this.api.get(`/api/chat/rooms/${rid}/messages`, { limit: PAGE });
      log.addPage(page.messages ?? [], 'latest', page.next_cursor == null);
      this._touchLog(rid);
      if (log.hasGap) this.fillGap(rid).catch(() => {});
    }
    if (room.is_member || room.kind === 'public') this.socket?.subscribe(rid);
    this.loadMembers(rid).catch(() => {});
    // A subscribed room's presence comes with its subscription.
    if (!this.presence.has(rid)) this.loadOnline(rid).catch(() => {});
    return room;
  }

  /** The room was opened: it is no longer a new invitation. */
  seen(id) {
    const rid = Number(id);
    if (!(rid in this.store.state.invited)) return;
    const invited = { ...this.store.state.invited };
    delete invited[rid];
    this.store.set({ invited });
  }

  /**
   * After a reconnect: fetches who is online in every room whose presence
   * is held, then presence is known again (a room that fails keeps what the
   * live presence frames bring).
   */
  async refreshPresence(rooms = Object.keys(this.store.state.presence).map(Number)) {
    const run = ++this.presenceRefresh;
    await Promise.allSettled(rooms.map((rid) => this.loadOnline(rid)));
    if (run === this.presenceRefresh && this.socket?.status !== 'waiting' && this.socket?.status !== 'connecting') {
      this.store.set({ presenceStale: false });
    }
  }

  /**
   * After a reconnect: the socket subscribed every room again and each
   * subscription brings a snapshot; presence is known again once they are
   * in. Rooms no longer subscribed are forgotten; rooms whose snapshot is
   * late are fetched over HTTP. (A socket that does not list its rooms
   * gets the HTTP refresh of every room.)
   */
  _awaitSnapshots() {
    const subscribed = this.socket?.rooms;
    if (!(subscribed instanceof Set)) {
      this.refreshPresence();
      return;
    }
    const run = ++this.presenceRefresh;
    for (const rid of Object.keys(this.store.state.presence).map(Number)) {
      if (!subscribed.has(rid)) this._forgetPresence(rid);
    }
    this.awaitingSnapshots = new Set(Object.keys(this.store.state.presence).map(Number));
    if (this.snapshotTimer != null) this.clearTimer(this.snapshotTimer);
    this.snapshotTimer = null;
    if (this.awaitingSnapshots.size === 0) {
      this.awaitingSnapshots = null;
      this.store.set({ presenceStale: false });
      return;
    }
    this.snapshotTimer = this.setTimer(() => {
      this.snapshotTimer = null;
      const late = [...(this.awaitingSnapshots ?? [])];
      this.awaitingSnapshots = null;
      if (run === this.presenceRefresh && late.length) this.refreshPresence(late);
    }, SNAPSHOT_WAIT_MS);
  }

  _snapshotArrived(rid) {
    const waiting = this.awaitingSnapshots;
    if (!waiting || !waiting.delete(rid) || waiting.size > 0) return;
    this.awaitingSnapshots = null;
    if (this.snapshotTimer != null) this.clearTimer(this.snapshotTimer);
    this.snapshotTimer = null;
    if (this.socket?.status !== 'waiting' && this.socket?.status !== 'connecting') this.store.set({ presenceStale: false });
  }

  /** Whether a user is online in a room: true, false or 'unknown' (reconnecting, or a big room's user not asked about yet). */
  isOnline(roomId, userId) {
    if (this.store.state.presenceStale) return 'unknown';
    return this.presence.online(roomId, userId);
  }

  /** How many are online in a room (null while unknown). */
  onlineCount(roomId) {
    if (this.store.state.presenceStale || !this.presence.has(roomId)) return null;
    return this.presence.count(roomId);
  }

  _presenceChanged(rid) {
    const summary = this.presence.summary(rid);
    const presence = { ...this.store.state.presence };
    if (summary) presence[rid] = summary;
    else delete presence[rid];
    this.store.set({ presence });
  }

  _forgetPresence(rid) {
    this.presence.forget(rid);
    this.watchPresence(rid, []);
    this.awaitingSnapshots?.delete(rid);
    if (rid in this.store.state.presence) this._presenceChanged(rid);
  }

  _presenceFrame(ev) {
    const rid = this.presence.apply(ev);
    if (rid == null) return;
    this._presenceChanged(rid);
    if (Array.isArray(ev.online)) this._snapshotArrived(rid);
    if (ev.type === 'presence_delta' && this.presence.drifted(rid)) {
      // A delta before any snapshot, or one lost: fetch the list again.
      const last = this.resyncedAt.get(rid) ?? -Infinity;
      if (this.now() - last >= PRESENCE_RESYNC_MS) {
        this.resyncedAt.set(rid, this.now());
        this.loadOnline(rid).catch(() => {});
      }
    }
    const w = this.presenceWatch.get(rid);
    if (w && ev.type === 'presence' && !Array.isArray(ev.online)) {
      // The count moved: the users shown may have come or gone.
      w.stale = true;
      this._askPresence(rid);
    }
  }

  /**
   * The users of a room a view shows (a member list's rows): in a big
   * room their presence is asked over HTTP, in batches of at most 200 ids,
   * at most every 2 s per room, and again after each count frame. An empty
   * list stops watching. Small rooms need nothing: their frames tell all.
   */
  watchPresence(roomId, userIds) {
    const rid = Number(roomId);
    const ids = [...new Set((userIds ?? []).map(Number).filter((n) => Number.isSafeInteger(n) && n > 0))];
    let w = this.presenceWatch.get(rid);
    if (ids.length === 0) {
      if (w?.timer != null) this.clearTimer(w.timer);
      this.presenceWatch.delete(rid);
      return;
    }
    if (!w) {
      w = { ids: [], askedAt: -Infinity, timer: null, stale: false, inflight: false };
      this.presenceWatch.set(rid, w);
    }
    w.ids = ids;
    this._askPresence(rid);
  }

  _askPresence(rid) {
    const w = this.presenceWatch.get(rid);
    if (!w || w.timer != null || w.inflight || !this.presence.big(rid)) return;
    const ids = w.stale ? w.ids : this.presence.unknownAmong(rid, w.ids);
    if (ids.length === 0) return;
    const wait = w.askedAt + PRESENCE_ASK_MS - this.now();
    if (wait > 0) {
      w.timer = this.setTimer(() => {
        w.timer = null;
        this._askPresence(rid);
      }, wait);
      return;
    }
    w.askedAt = this.now();
    w.stale = false;
    w.inflight = true;
    const gen = this.presence.gen(rid);
    const batches = [];
    for (let i = 0; i < ids.length; i += ONLINE_IDS_MAX) batches.push(ids.slice(i, i + ONLINE_IDS_MAX));
    Promise.allSettled(batches.map((batch) => this.api.get(...onlineRequest(rid, { userIds: batch })).then((res) => {
      if (this.presenceWatch.get(rid) === w && this.presence.has(rid)) this.presence.learn(rid, batch, res, gen);
    }))).then(() => {
      w.inflight = false;
      if (this.presenceWatch.get(rid) !== w) return;
      this._presenceChanged(rid);
      this._askPresence(rid);
    });
  }

  /**
   * One page of who is online in a room, by username: {online, next_cursor,
   * count}. What it lists is remembered as online.
   */
  async onlinePage(roomId, { cursor, limit = 50 } = {}) {
    const rid = Number(roomId);
    const gen = this.presence.gen(rid);
    const res = await this.api.get(...onlineRequest(rid, { limit, cursor }));
    const online = Array.isArray(res?.online) ? res.online : [];
    if (this.presence.big(rid)) {
      this.presence.learn(rid, online.map((u) => u.user_id), res, gen);
      this._presenceChanged(rid);
    }
    return { online, next_cursor: res?.next_cursor || null, count: Number.isSafeInteger(res?.count) ? res.count : null };
  }

  /** Leaves the room view; non-members stop receiving its events. */
  closeRoom(id) {
    const rid = Number(id);
    if (this.store.state.currentRoomId === rid) this.store.set({ currentRoomId: null });
    if (this.readingRoom === rid) this.readingRoom = null;
    const room = this.room(rid);
    if (room && !room.is_member) {
      this.socket?.unsubscribe(rid);
      this._forgetPresence(rid);
    }
  }

  /** Loads the page before the oldest message held; false when there is none. */
  async loadOlder(id, limit = PAGE) {
    const rid = Number(id);
    const log = this.log(rid);
    if (!log.hasMoreBefore) return false;
    const page = await this.api.get(`/api/chat/rooms/${rid}/messages`, { before_seq: log.lo, limit });
    log.addPage(page.messages ?? [], 'before', page.next_cursor == null);
    this._touchLog(rid);
    return log.hasMoreBefore;
  }

  /**
   * Loads the page after the newest message held while the window is
   * detached (after a message link); false once it reaches the live end.
   */
  async loadNewer(id) {
    const rid = Number(id);
    const log = this.log(rid);
    if (!log.detached) return false;
    const page = await this.api.get(`/api/chat/rooms/${rid}/messages`, { after_seq: log.hi, limit: GAP_PAGE });
    const msgs = page.messages ?? [];
    log.addPage(msgs, 'after', msgs.length < GAP_PAGE);
    this._touchLog(rid);
    this._syncLastMessage(rid);
    return log.detached;
  }

  /** Back at the live end after a message link: the latest page replaces the window. */
  async toLatest(id) {
    const rid = Number(id);
    const log = this.log(rid);
    if (!log.detached) return;
    const page = await this.api.get(`/api/chat/rooms/${rid}/messages`, { limit: PAGE });
    log.jumpTo(page.messages ?? [], { latest: true });
    this._touchLog(rid);
    this._syncLastMessage(rid);
    if (log.hasGap) this.fillGap(rid).catch(() => {});
  }

  /**
   * Makes seq held (a search hit, a message link); false if not found.
   * Older pages are loaded down to it; with around (a message link) one
   * far below the window is fetched as the page around it, which replaces
   * the window (detached: see RoomLog.jumpTo).
   */
  async reveal(roomId, seq, { around = false } = {}) {
    const log = this.log(roomId);
    if (around && log.lo != null && log.lo - seq > 4 * PAGE) {
      const page = await this.api.get(`/api/chat/rooms/${Number(roomId)}/messages`, { around_seq: seq, limit: 2 * PAGE });
      log.jumpTo(page.messages ?? [], { lastSeq: this.room(roomId)?.last_seq });
      this._touchLog(roomId);
      return log.lo <= seq && seq <= log.hi;
    }
    // Far back (a message link), in pages of GAP_PAGE: the window stays
    // one contiguous range, so scrolling either way and resuming still work.
    for (let i = 0; i < 60 && !(log.lo <= seq) && log.hasMoreBefore; i++) await this.loadOlder(roomId, log.lo - seq > PAGE ? GAP_PAGE : PAGE);
    return log.lo <= seq;
  }

  /**
   * Fetches missing messages over HTTP until the room's window has no gap
   * (with toEnd, until a page comes back short: the replay was capped).
   */
  fillGap(roomId, { toEnd = false } = {}) {
    const rid = Number(roomId);
    if (this.gapFills.has(rid)) return this.gapFills.get(rid);
    const p = (async () => {
      const log = this.log(rid);
      for (let i = 0; i < 50; i++) {
        if (log.afterSeq == null) {
          const page = await this.api.get(`/api/chat/rooms/${rid}/messages`, { limit: PAGE });
          log.addPage(page.messages ?? [], 'latest', page.next_cursor == null);
        } else {
          if (!log.hasGap && !toEnd) break;
          const page = await this.api.get(`/api/chat/rooms/${rid}/messages`, { after_seq: log.afterSeq, limit: GAP_PAGE });
          const msgs = page.messages ?? [];
          const before = log.afterSeq;
          log.addPage(msgs, 'after');
          if (msgs.length === 0 || log.afterSeq === before) break;
          if (toEnd && msgs.length < GAP_PAGE && !log.hasGap) break;
        }
        this._touchLog(rid);
        this._syncLastMessage(rid);
      }
      this._touchLog(rid);
      this._syncLastMessage(rid);
    })().finally(() => this.gapFills.delete(rid));
    this.gapFills.set(rid, p);
    return p;
  }

  async loadMembers(roomId) {
    const rid = Number(roomId);
    for (let attempt = 0; ; attempt++) {
      // A join or leave while the list is on its way may be missing from
      // it, and the frame found no list to change: fetch again.
      const changes = this.memberChanges.get(rid) ?? 0;
      const all = [];
      let cursor = null;
      for (let i = 0; i < 10; i++) {
        const page = await this.api.get(`/api/chat/rooms/${rid}/members`, { limit: 200, cursor });
        all.push(...(page.members ?? []));
        cursor = page.next_cursor;
        if (cursor == null || cursor === '') break;
      }
      if (attempt < 3 && (this.memberChanges.get(rid) ?? 0) !== changes) continue;
      this.store.set({ members: { ...this.store.state.members, [rid]: all } });
      return all;
    }
  }

  /**
   * Fetches who is online in a room over HTTP (the first CAP by username,
   * which is all of a small room) unless a frame says otherwise meanwhile.
   */
  async loadOnline(roomId) {
    const rid = Number(roomId);
    const gen = this.presence.gen(rid);
    const res = await this.api.get(...onlineRequest(rid, { limit: PRESENCE_CAP }));
    if (this.presence.applyHttp(rid, res, gen)) this._presenceChanged(rid);
  }

  async createRoom({ name, description, kind }) {
    const room = await this.api.post('/api/chat/rooms', { name, description, kind });
    this.selfJoins.add(Number(room.id));
    return this._adoptRoom(room);
  }

  _adoptRoom(room) {
    const rid = Number(room.id);
    this._upsertRoom({ ...room, id: rid, is_member: true, role: room.role ?? 'owner' });
    this.log(rid).placeAt(Number(room.last_seq ?? room.last_message?.seq ?? 0));
    this.socket?.subscribe(rid);
    this.loadRooms().catch(() => {});
    return this.room(rid);
  }

  async join(roomId) {
    const rid = Number(roomId);
    this.selfJoins.add(rid);
    await this.api.post(`/api/chat/rooms/${rid}/join`);
    this._patchRoom(rid, { is_member: true, role: 'member' });
    this.socket?.subscribe(rid);
    this.loadRooms().catch(() => {});
    this.loadMembers(rid).catch(() => {});
  }

  async leave(roomId) {
    const rid = Number(roomId);
    const room = this.room(rid);
    this.selfJoins.delete(rid);
    await this.api.post(`/api/chat/rooms/${rid}/leave`);
    if (room && room.kind === 'public') {
      this._patchRoom(rid, { is_member: false, role: null, unread: 0 });
      this.socket?.unsubscribe(rid);
    } else {
      this._removeRoom(rid);
    }
  }

  /**
   * Opens (creating if needed) the DM room with a user. username, from the
   * directory, names them to chat-service if they never used chat yet.
   */
  async openDM(userId, username) {
    const room = await this.api.post('/api/chat/dms', { user_id: Number(userId), ...(username ? { username: String(username) } : {}) });
    return this._adoptRoom({ ...room, role: room.role ?? 'member' });
  }

  /** Opens (creating if needed) the group DM with exactly these others (2–8 ids). */
  async openGroup(userIds) {
    const room = await this.api.post('/api/chat/dms', { user_ids: userIds.map(Number) });
    this.selfJoins.add(Number(room.id));
    return this._adoptRoom({ ...room, role: room.role ?? 'member' });
  }

  /** Adds a user (an id, with the directory's username when known, or a username) to a room. */
  async invite(roomId, who, username) {
    const body = typeof who === 'number' ? { user_id: who, ...(username ? { username: String(username) } : {}) } : { username: String(who) };
    const m = await this.api.post(`/api/chat/rooms/${Number(roomId)}/members`, body);
    await this.loadMembers(roomId).catch(() => {});
    return m;
  }

  async removeMember(roomId, userId) {
    await this.api.del(`/api/chat/rooms/${Number(roomId)}/members/${Number(userId)}`);
    await this.loadMembers(roomId).catch(() => {});
  }

  async updateRoom(roomId, patch) {
    const room = await this.api.patch(`/api/chat/rooms/${Number(roomId)}`, patch);
    this._patchRoom(roomId, { name: room.name, description: room.description, archived: room.archived });
    return room;
  }

  async deleteRoom(roomId) {
    await this.api.del(`/api/chat/rooms/${Number(roomId)}`);
    this._removeRoom(roomId);
  }

  // ---- messages ------------------------------------------------------------

  /**
   * Queues a message and sends it (socket first, HTTP when disconnected).
   * files: the uploaded file objects it carries (views/files.js); with
   * files the body may be empty.
   */
  send(roomId, body, threadRootId = null, files = []) {
    const withFiles = Array.isArray(files) && files.length > 0;
    if (isBlank(body) && !withFiles) return null;
    const e = this.outbox.add(roomId, isBlank(body) && withFiles ? '' : body);
    if (threadRootId != null) e.thread_root_id = Number(threadRootId); // a reply (threads.js)
    if (withFiles) {
      e.files = files;
      e.file_ids = files.map((f) => f.id);
    }
    this._touchLog(roomId);
    this.flushOutbox();
    return e;
  }

  /** Retries a failed send with its original client_msg_id. */
  retrySend(clientMsgId) {
    const e = this.outbox.get(clientMsgId);
    if (!e) return;
    this.outbox.retry(clientMsgId);
    this._touchLog(e.room_id);
    this.flushOutbox();
  }

  discardSend(clientMsgId) {
    const e = this.outbox.get(clientMsgId);
    if (!e) return;
    this.outbox.discard(clientMsgId);
    this._touchLog(e.room_id);
  }

  /** Sends every due outbox entry; schedules the next check. */
  flushOutbox() {
    if (this.flushTimer != null) {
      this.clearTimer(this.flushTimer);
      this.flushTimer = null;
    }
    for (const e of this.outbox.due(ACK_TIMEOUT_MS)) {
      const frame = { type: 'send', room_id: e.room_id, body: e.body, client_msg_id: e.client_msg_id };
      if (e.thread_root_id != null) frame.thread_root_id = e.thread_root_id;
      if (e.file_ids) frame.file_ids = e.file_ids;
      if (this.socket?.ready) {
        // Marked first: the answer (ack or error) may refer to this attempt.
        this.outbox.markSent(e.client_msg_id);
        this.socket.send(frame);
      } else if (e.sent_at == null) {
        this._sendHTTP(e);
      }
    }
    if (this.outbox.size > 0) {
      const next = this.outbox.nextRetryAt();
      const delay = next != null ? Math.max(50, Math.min(ACK_TIMEOUT_MS, next - this.now())) : ACK_TIMEOUT_MS;
      this.flushTimer = this.setTimer(() => {
        this.flushTimer = null;
        this.flushOutbox();
      }, delay);
    }
  }

  async _sendHTTP(e) {
    this.outbox.markSent(e.client_msg_id);
    try {
      const msg = await this.api.post(`/api/chat/rooms/${e.room_id}/messages`, { body: e.body, client_msg_id: e.client_msg_id, ...(e.thread_root_id != null ? { thread_root_id: e.thread_root_id } : {}), ...(e.file_ids ? { file_ids: e.file_ids } : {}) });
      this.outbox.resolve(e.client_msg_id);
      this._incoming(msg);
    } catch (err) {
      if (err?.status === 429) this.outbox.deferRetry(e.client_msg_id, Math.max(1, err.retryAfter || 1) * 1000);
      else if (err?.transient) this.outbox.deferRetry(e.client_msg_id, backoffDelay(e.attempts));
      else this.outbox.fail(e.client_msg_id, err?.message ?? 'Could not send');
      this._touchLog(e.room_id);
    }
  }

  async edit(messageId, body) {
    const msg = await this.api.patch(`/api/chat/messages/${Number(messageId)}`, { body });
    if (this.log(msg.room_id).update(msg)) this._touchLog(msg.room_id);
    this._syncLastMessage(msg.room_id);
    return msg;
  }

  async deleteMessage(messageId, roomId) {
    const res = await this.api.del(`/api/chat/messages/${Number(messageId)}`);
    const rid = Number(res?.room_id ?? roomId);
    if (this.log(rid).markDeleted(messageId)) this._touchLog(rid);
    this._syncLastMessage(rid);
  }

  /** Adds or removes the user's reaction. */
  async toggleReaction(msg, emoji) {
    const mine = msg.reactions.find((r) => r.emoji === emoji && reactedByMe(r, this.me?.id));
    const path = `/api/chat/messages/${msg.id}/reactions/${encodeURIComponent(emoji)}`;
    const res = mine ? await this.api.del(path) : await this.api.post(path);
    const log = this.log(msg.room_id);
    const changed = res?.reactions
      ? log.applyReaction(msg.id, { reactions: res.reactions })
      : log.applyReaction(msg.id, { emoji, user_id: this.me?.id, added: !mine }, this.me?.id);
    if (changed) this._touchLog(msg.room_id);
  }

  /** Marks the room read up to its newest message. */
  markRead(roomId) {
    const rid = Number(roomId);
    const room = this.room(rid);
    const seq = this.logs.get(rid)?.afterSeq;
    if (!room || !room.is_member || seq == null || seq <= (room.last_read_seq ?? 0)) {
      if (room?.unread || room?.mention_count) this._patchRoom(rid, { unread: 0, mention_count: 0 });
      return;
    }
    this._patchRoom(rid, { last_read_seq: seq, unread: 0, mention_count: 0 });
    if (!this.socket?.send({ type: 'read', room_id: rid, seq })) {
      this.api.post(`/api/chat/rooms/${rid}/read`, { seq }).catch(() => {});
    }
  }

  /** Tells the room the user is typing (at most every 3 s). */
  typing(roomId) {
    const rid = Number(roomId);
    const t = this.now();
    if (t - (this.typingSentAt.get(rid) ?? 0) < TYPING_THROTTLE_MS) return;
    if (this.socket?.send({ type: 'typing', room_id: rid })) this.typingSentAt.set(rid, t);
  }

  /** Names typing in a room now, other than the user. */
  typingIn(roomId) {
    const t = this.now();
    return (this.store.state.typing[Number(roomId)] ?? []).filter((x) => x.until > t && x.user_id !== this.me?.id);
  }

  async search(q, roomId) {
    const res = await this.api.get('/api/chat/search', { q, room_id: roomId || undefined, limit: 50 });
    return res.results ?? res.messages ?? res.hits ?? [];
  }

  // ---- socket frames -------------------------------------------------------

  /** Handles one frame from the socket. */
  handle(ev) {
    this.threads?.handle(ev);
    this.pins?.handle(ev);
    switch (ev.type) {
      case 'ready':
        this.outbox.resetAttempts();
        this.flushOutbox();
        this.loadRooms().catch(() => {});
        if (this.store.state.presenceStale) this._awaitSnapshots();
        break;
      case 'message':
        this._incoming(ev.message);
        break;
      case 'ack': {
        const e = this.outbox.resolve(ev.client_msg_id);
        if (ev.message) this._incoming(ev.message);
        else if (e) this._touchLog(e.room_id);
        break;
      }
      case 'message_updated':
        if (ev.message && this.log(ev.message.room_id).update(ev.message)) {
          this._touchLog(ev.message.room_id);
          this._syncLastMessage(ev.message.room_id);
        }
        break;
      case 'message_deleted': {
        const rid = Number(ev.room_id ?? ev.message?.room_id);
        const id = Number(ev.message_id ?? ev.message?.id);
        const known = this.log(rid).get(id);
        // A deletion counts once: the frame may come again (another
        // connection's replay) for a tombstone the log already holds.
        const fresh = !known?.deleted && !this.uncounted.has(id);
        if (fresh) this._uncountDeleted(rid, id, Number(ev.seq ?? ev.message?.seq ?? known?.seq), ev.message?.user_id ?? known?.user_id);
        if (this.log(rid).markDeleted(id)) {
          this._touchLog(rid);
          this._syncLastMessage(rid);
        }
        break;
      }
      case 'reaction': {
        const rid = Number(ev.room_id);
        const change = ev.reactions ? { reactions: ev.reactions } : ev;
        if (this.log(rid).applyReaction(ev.message_id, change, this.me?.id)) this._touchLog(rid);
        break;
      }
      case 'subscribed':
        // The server's replay stopped at its cap: page the rest over HTTP
        // from where it stopped, so the room ends holding every message.
        if (ev.more) this.fillGap(ev.room_id, { toEnd: true }).catch(() => {});
        break;
      case 'typing':
        this._typing(ev);
        break;
      case 'presence':
      case 'presence_delta':
        this._presenceFrame(ev);
        break;
      case 'room_updated':
        if (ev.deleted) this._removeRoom(ev.room.id);
        else if (ev.room) this._patchRoom(ev.room.id, { name: ev.room.name, description: ev.room.description, archived: ev.room.archived });
        break;
      case 'member_joined':
        this._memberJoined(ev);
        break;
      case 'member_left':
        this._memberLeft(ev);
        break;
      case 'read':
        this._patchRoom(ev.room_id, { last_read_seq: ev.last_read_seq, unread: ev.unread ?? 0, ...(ev.unread ? {} : { mention_count: 0 }) });
        break;
      case 'mention':
        this.mentionTrack.frame(ev.message);
        break;
      case 'error':
        this._error(ev);
        break;
      case 'closed':
        // Nobody's presence can be told until the socket is back.
        this.presenceRefresh++;
        this.awaitingSnapshots = null;
        if (this.snapshotTimer != null) this.clearTimer(this.snapshotTimer);
        this.snapshotTimer = null;
        this.store.set({ typing: {}, presenceStale: true });
        break;
      default:
        break;
    }
  }

  _incoming(raw) {
    if (!raw) return;
    const rid = Number(raw.room_id);
    if (raw.client_msg_id && Number(raw.user_id) === this.me?.id && this.outbox.get(raw.client_msg_id)) {
      this.outbox.resolve(raw.client_msg_id);
    }
    const log = this.log(rid);
    const res = log.live(raw);
    if (res.status !== 'duplicate' && res.status !== 'old') this._touchLog(rid);
    if (res.status === 'appended' || res.status === 'gap') this.threads?.incoming(raw);
    if (res.status === 'appended') {
      // Typing ends when the typist's message arrives.
      const typing = this.store.state.typing[rid];
      if (typing?.some((x) => x.user_id === Number(raw.user_id))) {
        this.store.set({ typing: { ...this.store.state.typing, [rid]: typing.filter((x) => x.user_id !== Number(raw.user_id)) } });
      }
      const room = this.room(rid);
      if (room) {
        const mine = Number(raw.user_id) === this.me?.id;
        const patch = {};
        if (!mine && room.is_member && this.readingRoom !== rid && !raw.deleted) {
          patch.unread = (room.unread ?? 0) + 1;
          if (this.mentionTrack.counts(raw)) patch.mention_count = (room.mention_count ?? 0) + 1;
        }
        if (Object.keys(patch).length) this._patchRoom(rid, patch);
        this._syncLastMessage(rid);
        if (this.readingRoom === rid || mine) this.markRead(rid);
        if (!mine && this.onMessage) this.onMessage(log.get(raw.id) ?? raw, this.room(rid));
        if (this.onLive) for (const m of [log.get(raw.id) ?? raw, ...(res.drained ?? [])]) this.onLive(m, this.room(rid));
      } else {
        this.loadRooms().catch(() => {});
      }
    }
    if (res.status === 'gap') this._awaitGap(rid);
  }

  /**
   * A message deleted while still unread leaves the room's unread count,
   * as the server's count leaves out deleted messages: someone else's, after
   * the read marker, in a room not being read.
   */
  _uncountDeleted(rid, id, seq, userId) {
    const room = this.room(rid);
    if (!room?.is_member || !(room.unread > 0) || this.readingRoom === rid) return;
    if (userId == null || Number(userId) === this.me?.id) return;
    if (!Number.isSafeInteger(seq) || seq <= (room.last_read_seq ?? 0)) return;
    if (this.uncounted.size >= 1000) this.uncounted.clear();
    this.uncounted.add(id);
    this._patchRoom(rid, { unread: room.unread - 1 });
  }

  /** Fetches a live gap that the grace period did not close. */
  _awaitGap(rid) {
    // A detached window (a message link) pages forward as the reader scrolls.
    if (this.gapTimers.has(rid) || this.gapFills.has(rid) || this.log(rid).detached) return;
    this.gapTimers.set(rid, this.setTimer(() => {
      this.gapTimers.delete(rid);
      if (this.log(rid).hasGap) this.fillGap(rid).catch(() => {});
    }, GAP_GRACE_MS));
  }

  _syncLastMessage(roomId) {
    const rid = Number(roomId);
    const room = this.room(rid);
    const last = this.logs.get(rid)?.last();
    if (!room || !last) return;
    const cur = room.last_message;
    if (!cur || last.seq > cur.seq || (last.seq === cur.seq && last !== cur)) {
      this._patchRoom(rid, { last_message: last, last_seq: Math.max(last.seq, room.last_seq ?? 0) });
    }
  }

  _typing(ev) {
    const rid = Number(ev.room_id);
    const uid = Number(ev.user_id);
    if (uid === this.me?.id) return;
    const until = this.now() + TYPING_TTL_MS;
    const list = (this.store.state.typing[rid] ?? []).filter((x) => x.user_id !== uid && x.until > this.now());
    list.push({ user_id: uid, username: ev.username, until });
    this.store.set({ typing: { ...this.store.state.typing, [rid]: list } });
    if (this.typingTimer == null) this._scheduleTypingExpiry();
  }

  _scheduleTypingExpiry() {
    this.typingTimer = this.setTimer(() => {
      this.typingTimer = null;
      const t = this.now();
      const next = {};
      let left = false;
      let changed = false;
      for (const [rid, list] of Object.entries(this.store.state.typing)) {
        const alive = list.filter((x) => x.until > t);
        if (alive.length !== list.length) changed = true;
        if (alive.length) {
          next[rid] = alive;
          left = true;
        }
      }
      if (changed) this.store.set({ typing: next });
      if (left) this._scheduleTypingExpiry();
    }, 1_000);
  }

  _memberJoined(ev) {
    const rid = Number(ev.room_id);
    const uid = Number(ev.member?.user_id ?? ev.user_id);
    if (uid === this.me?.id) {
      const known = this.room(rid);
      // Someone else's doing: not a room this client joined, created or
      // opened (a DM the user started names the peer as the new member),
      // nor one the user is looking at. A DM someone started is not one
      // either: its first message is announced and counted as unread.
      const kind = ev.room?.kind ?? known?.kind;
      const invitation = !this.selfJoins.delete(rid) && !known?.is_member && this.store.state.currentRoomId !== rid && kind !== 'dm' && kind !== 'group';
      if (ev.room) this._adoptRoom({ ...ev.room, role: ev.member?.role });
      else this.loadRooms().catch(() => {});
      if (invitation) {
        const by = ev.added_by ?? null;
        this.store.set({ invited: { ...this.store.state.invited, [rid]: { by } } });
        if (this.onInvited) this.onInvited(this.room(rid) ?? { id: rid, ...(ev.room ?? {}) }, by);
      }
      return;
    }
    this.memberChanges.set(rid, (this.memberChanges.get(rid) ?? 0) + 1);
    const members = this.store.state.members[rid];
    if (members && ev.member && !members.some((m) => Number(m.user_id) === uid)) {
      this.store.set({ members: { ...this.store.state.members, [rid]: [...members, ev.member] } });
    }
    const room = this.room(rid);
    if (room) this._patchRoom(rid, { member_count: (room.member_count ?? 0) + 1 });
  }

  _memberLeft(ev) {
    const rid = Number(ev.room_id);
    const uid = Number(ev.user_id);
    const room = this.room(rid);
    if (uid === this.me?.id) {
      if (room && room.kind === 'public') {
        this._patchRoom(rid, { is_member: false, role: null, unread: 0 });
        if (this.store.state.currentRoomId !== rid) this.socket?.unsubscribe(rid);
      } else {
        this._removeRoom(rid);
      }
      return;
    }
    this.memberChanges.set(rid, (this.memberChanges.get(rid) ?? 0) + 1);
    const members = this.store.state.members[rid];
    if (members) {
      this.store.set({ members: { ...this.store.state.members, [rid]: members.filter((m) => Number(m.user_id) !== uid) } });
    }
    if (room) this._patchRoom(rid, { member_count: Math.max(0, (room.member_count ?? 1) - 1) });
  }

  _error(ev) {
    const ref = ev.ref ?? ev.client_msg_id;
    const e = ref ? this.outbox.get(ref) : null;
    if (e) {
      if (ev.code === 'rate_limited') {
        const wait = Number(ev.retry_after_ms) > 0 ? Number(ev.retry_after_ms) : backoffDelay(e.attempts, { base: 1000 });
        this.outbox.deferRetry(ref, wait);
        this.flushOutbox();
      } else if (PERMANENT.has(ev.code) || !/unavailable|internal|timeout/.test(ev.code ?? '')) {
        this.outbox.fail(ref, ev.message || ev.code);
        this._touchLog(e.room_id);
      } else {
        this.outbox.deferRetry(ref, backoffDelay(e.attempts, { base: 1000 }));
        this.flushOutbox();
      }
      return;
    }
    this.store.set({ socketError: { code: ev.code, message: ev.message, at: this.now() } });
  }
}
