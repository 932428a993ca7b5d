// ChatClient with the real ChatSocket against a small in-memory chat
// server that follows the WebSocket contract (docs/ARCHITECTURE.md): seq per room, replay after after_seq on
// subscribe, idempotent sends, acks, rate limits.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChatClient } from '../web/assets/chat.js';
import { ChatSocket } from '../web/assets/socket.js';
import { createStore } from '../web/assets/state.js';
import { ApiError } from '../web/assets/api.js';
import { FakeClock, FakeWS, flush } from './helpers.mjs';

const ME = { id: 7, username: 'ann', role: 'user' };

class FakeServer {
  constructor() {
    this.rooms = new Map([
      [1, { id: 1, name: 'General', kind: 'public', is_member: true, is_default: true, unread: 0, last_read_seq: 0, msgs: [] }],
      [2, { id: 2, name: 'random', kind: 'public', is_member: true, unread: 0, last_read_seq: 0, msgs: [] }],
    ]);
    this.nextId = 1;
    this.sockets = new Set();
    this.rateLimitNext = 0;
    this.down = false;
    this.httpCalls = [];
    this.maxReplay = Infinity; // the server's replay cap (WS_MAX_REPLAY)
  }

  post(roomId, userId, body, clientMsgId) {
    const room = this.rooms.get(roomId);
    if (clientMsgId) {
      const dup = room.msgs.find((m) => m.user_id === userId && m.client_msg_id === clientMsgId);
      if (dup) return { msg: dup, created: false };
    }
    const m = { id: this.nextId++, room_id: roomId, seq: room.msgs.length + 1, user_id: userId, username: userId === ME.id ? 'ann' : 'bob', body, client_msg_id: clientMsgId ?? null, created_at: new Date(1_700_000_000_000 + this.nextId * 1000).toISOString(), edited_at: null, deleted: false, reactions: [] };
    room.msgs.push(m);
    return { msg: m, created: true };
  }

  // Another user posts; live subscribers get it.
  othersPost(roomId, body, { deliver = true } = {}) {
    const { msg } = this.post(roomId, 42, body);
    if (deliver) this.broadcast(roomId, { type: 'message', message: msg });
    return msg;
  }

  broadcast(roomId, frame) {
    for (const c of this.sockets) {
      if (c.subs.has(roomId)) queueMicrotask(() => c.ws.readyState === 1 && c.ws.receive(frame));
    }
  }

  // Accepts a FakeWS the client opened.
  accept(ws) {
    const c = { ws, subs: new Set() };
    this.sockets.add(c);
    const origSend = ws.send.bind(ws);
    ws.send = (data) => {
      origSend(data);
      this.onFrame(c, JSON.parse(data));
    };
    ws.open();
    return c;
  }

  // Answers arrive asynchronously, as over a real socket.
  onFrame(c, f) {
    const reply = (frame) => queueMicrotask(() => c.ws.readyState === 1 && c.ws.receive(frame));
    switch (f.type) {
      case 'auth':
        reply({ type: 'ready', user: ME });
        break;
      case 'subscribe':
        c.subs.add(f.room_id);
        const msgs = this.rooms.get(f.room_id).msgs;
        if (f.after_seq == null) {
          reply({ type: 'subscribed', room_id: f.room_id, last_seq: msgs.length, more: false });
          break;
        }
        const missed = msgs.filter((m) => m.seq > f.after_seq);
        const sent = missed.slice(0, this.maxReplay);
        for (const m of sent) reply({ type: 'message', message: m });
        reply({ type: 'subscribed', room_id: f.room_id, last_seq: sent.at(-1)?.seq ?? f.after_seq, more: missed.length > sent.length });
        break;
      case 'send': {
        if (this.rateLimitNext > 0) {
          this.rateLimitNext--;
          reply({ type: 'error', code: 'rate_limited', message: 'slow down', ref: f.client_msg_id });
          break;
        }
        const { msg, created } = this.post(f.room_id, ME.id, f.body, f.client_msg_id);
        reply({ type: 'ack', client_msg_id: f.client_msg_id, message: msg });
        if (created) this.broadcast(f.room_id, { type: 'message', message: msg });
        break;
      }
      case 'read': {
        const room = this.rooms.get(f.room_id);
        room.last_read_seq = Math.max(room.last_read_seq, f.seq);
        break;
      }
      default:
    }
  }

  kill(code = 1012) {
    for (const c of this.sockets) if (c.ws.readyState === 1) c.ws.serverClose(code);
    this.sockets.clear();
  }

  api() {
    const srv = this;
    return {
      user: ME,
      async get(path, q = {}) {
        srv.httpCalls.push(['GET', path, q]);
        if (srv.down) throw new ApiError(503, 'upstream_unavailable', 'chat-service is unavailable');
        if (path === '/api/chat/rooms') {
          return {
            rooms: [...srv.rooms.values()].map(({ msgs, ...r }) => ({
              ...r, last_seq: msgs.length, last_message: msgs.at(-1) ?? null,
              unread: msgs.filter((m) => m.seq > r.last_read_seq && m.user_id !== ME.id && !m.deleted).length,
            })),
            next_cursor: null,
          };
        }
        let m = /^\/api\/chat\/rooms\/(\d+)\/messages$/.exec(path);
        if (m) {
          const msgs = srv.rooms.get(Number(m[1])).msgs;
          const limit = q.limit ?? 50;
          let page;
          if (q.after_seq != null) page = msgs.filter((x) => x.seq > q.after_seq).slice(0, limit);
          else {
            const below = msgs.filter((x) => q.before_seq == null || x.seq < q.before_seq);
            page = below.slice(-limit);
          }
          const older = page.length > 0 && page[0].seq > 1;
          return { messages: page, next_cursor: q.after_seq == null && older ? page[0].seq : null };
        }
        if (/members$/.test(path)) return { members: [], next_cursor: null };
        if (/online$/.test(path)) return { online: [] };
        throw new ApiError(404, 'not_found', path);
      },
      async post(path, body) {
        srv.httpCalls.push(['POST', path, body]);
        if (srv.down) throw new ApiError(503, 'upstream_unavailable', 'chat-service is unavailable');
        const m = /^\/api\/chat\/rooms\/(\d+)\/messages$/.exec(path);
        if (m) {
          const { msg, created } = srv.post(Number(m[1]), ME.id, body.body, body.client_msg_id);
          if (created) srv.broadcast(Number(m[1]), { type: 'message', message: msg });
          return msg;
        }
        return {};
      },
    };
  }
}

async function boot() {
  FakeWS.reset();
  const clock = new FakeClock();
  const srv = new FakeServer();
  const store = createStore({});
  const chat = new ChatClient({ api: srv.api(), store, now: clock.now, setTimer: clock.setTimer, clearTimer: clock.clearTimer });
  const socket = new ChatSocket({
    url: 'ws://chat/ws', WebSocket: FakeWS, getToken: () => 'tok', refresh: async () => {},
    ...chat.socketHandlers(), now: clock.now, setTimer: clock.setTimer, clearTimer: clock.clearTimer, random: () => 0.5,
  });
  chat.attach(socket);
  const client = { connect: async () => { await flush(); return srv.accept(FakeWS.last); } };
  return { clock, srv, store, chat, socket, client };
}

const bodies = (chat, rid) => chat.log(rid).messages().map((m) => m.body);
const serverBodies = (srv, rid) => srv.rooms.get(rid).msgs.map((m) => m.body);

test('history, live messages and own sends end up once each, in seq order', async () => {
  const { srv, chat, socket, client } = await boot();
  for (let i = 1; i <= 3; i++) srv.othersPost(1, `old ${i}`, { deliver: false });
  await chat.loadRooms();
  socket.start();
  await client.connect();
  await chat.openRoom(1);
  assert.deepEqual(bodies(chat, 1), ['old 1', 'old 2', 'old 3']);
  srv.othersPost(1, 'live');
  chat.send(1, 'mine');
  await flush();
  assert.deepEqual(bodies(chat, 1), ['old 1', 'old 2', 'old 3', 'live', 'mine']);
  assert.equal(chat.outbox.size, 0, 'acknowledged');
  assert.deepEqual(serverBodies(srv, 1), bodies(chat, 1));
});

test('after a restart the client resumes: nothing missing, nothing twice, unsent messages delivered once', async () => {
  const { srv, chat, socket, client, clock, store } = await boot();
  await chat.loadRooms();
  socket.start();
  await client.connect();
  await chat.openRoom(1);
  srv.othersPost(1, 'before 1');
  srv.othersPost(2, 'other room before');
  await flush();

  srv.down = true; // the HTTP path is down too while chat-service restarts
  srv.kill(1012);
  await flush();
  assert.equal(store.state.conn, undefined);
  srv.othersPost(1, 'during 1', { deliver: false });
  srv.othersPost(1, 'during 2', { deliver: false });
  srv.othersPost(2, 'other room during', { deliver: false });
  chat.send(1, 'sent while down');
  await flush();
  assert.equal(chat.outbox.size, 1, 'queued');

  srv.down = false;
  clock.advance(clock.nextDelay()); // reconnect timer (and maybe a retry)
  await client.connect();
  await flush();
  clock.advance(10_000); // any timers
  await flush();

  assert.deepEqual(bodies(chat, 1), serverBodies(srv, 1));
  assert.deepEqual(bodies(chat, 1), ['before 1', 'during 1', 'during 2', 'sent while down']);
  assert.equal(srv.rooms.get(1).msgs.filter((m) => m.body === 'sent while down').length, 1, 'sent exactly once');
  assert.equal(chat.outbox.size, 0);
  assert.deepEqual(bodies(chat, 2), ['other room before', 'other room during']);
  const r2 = chat.room(2);
  assert.equal(r2.unread, 2, 'unread counts what arrived in the other room');
  assert.equal(r2.last_message.body, 'other room during');
});

const gapFetches = (srv) => srv.httpCalls.filter(([, p, q]) => p === '/api/chat/rooms/1/messages' && q.after_seq != null);

test('a gap in the live stream is fetched over HTTP once its grace period ends', async () => {
  const { srv, chat, socket, client, clock } = await boot();
  await chat.loadRooms();
  socket.start();
  await client.connect();
  await chat.openRoom(1);
  srv.othersPost(1, 'a');
  srv.othersPost(1, 'b', { deliver: false }); // lost
  srv.othersPost(1, 'c', { deliver: false }); // lost
  srv.othersPost(1, 'd');
  await flush();
  assert.deepEqual(bodies(chat, 1), ['a'], 'd is held back while the hole waits for its messages');
  assert.equal(gapFetches(srv).length, 0);
  clock.advance(500);
  await flush();
  assert.deepEqual(bodies(chat, 1), ['a', 'b', 'c', 'd']);
  assert.deepEqual(gapFetches(srv).map(([, , q]) => q.after_seq), [1]);
});

test('a gap closed by a late arrival within the grace period costs no request', async () => {
  const { srv, chat, socket, client, clock } = await boot();
  await chat.loadRooms();
  socket.start();
  await client.connect();
  await chat.openRoom(1);
  srv.othersPost(1, 'a');
  const late = srv.othersPost(1, 'b', { deliver: false }); // committed on another replica, still on its way
  srv.othersPost(1, 'c');
  await flush();
  assert.deepEqual(bodies(chat, 1), ['a']);
  srv.broadcast(1, { type: 'message', message: late });
  await flush();
  assert.deepEqual(bodies(chat, 1), ['a', 'b', 'c']);
  clock.advance(500);
  await flush();
  assert.equal(gapFetches(srv).length, 0);
});

test('a rate-limited send is retried later with the same client_msg_id', async () => {
  const { srv, chat, socket, client, clock } = await boot();
  await chat.loadRooms();
  socket.start();
  const c = await client.connect();
  await chat.openRoom(1);
  srv.rateLimitNext = 2;
  const e = chat.send(1, 'hello');
  await flush();
  assert.equal(chat.outbox.size, 1);
  for (let i = 0; i < 5 && chat.outbox.size > 0; i++) {
    clock.advance(clock.nextDelay() ?? 1000);
    await flush();
  }
  assert.equal(chat.outbox.size, 0);
  const sends = c.ws.frames('send');
  assert.equal(sends.length, 3);
  assert.ok(sends.every((f) => f.client_msg_id === e.client_msg_id));
  assert.deepEqual(serverBodies(srv, 1), ['hello']);
});

test('an unacknowledged send is resent with the same id, and the server keeps one copy', async () => {
  const { srv, chat, socket, client, clock } = await boot();
  await chat.loadRooms();
  socket.start();
  const c = await client.connect();
  await chat.openRoom(1);
  // Swallow the first send: no ack comes back.
  const onFrame = srv.onFrame.bind(srv);
  let swallowed = false;
  srv.onFrame = (conn, f) => {
    if (f.type === 'send' && !swallowed) {
      swallowed = true;
      srv.post(f.room_id, ME.id, f.body, f.client_msg_id); // stored, ack lost
      return;
    }
    onFrame(conn, f);
  };
  chat.send(1, 'once');
  await flush();
  assert.equal(chat.outbox.size, 1);
  clock.advance(10_000);
  await flush();
  assert.equal(chat.outbox.size, 0);
  assert.equal(c.ws.frames('send').length, 2);
  assert.deepEqual(serverBodies(srv, 1), ['once']);
  assert.deepEqual(bodies(chat, 1), ['once']);
});

test('a permanent error marks the send failed; retry keeps its id', async () => {
  const { srv, chat, socket, client } = await boot();
  await chat.loadRooms();
  socket.start();
  const c = await client.connect();
  await chat.openRoom(1);
  const onFrame = srv.onFrame.bind(srv);
  srv.onFrame = (conn, f) => {
    if (f.type === 'send' && f.body.length > 5) conn.ws.receive({ type: 'error', code: 'body_too_long', message: 'too long', ref: f.client_msg_id });
    else onFrame(conn, f);
  };
  const e = chat.send(1, 'much too long');
  await flush();
  assert.equal(chat.outbox.get(e.client_msg_id).state, 'failed');
  assert.equal(chat.outbox.get(e.client_msg_id).error, 'too long');
  chat.retrySend(e.client_msg_id);
  await flush();
  assert.equal(c.ws.frames('send').filter((f) => f.client_msg_id === e.client_msg_id).length, 2);
});

test('typing shows others for a few seconds and ends when their message arrives', async () => {
  const { srv, chat, socket, client, clock, store } = await boot();
  await chat.loadRooms();
  socket.start();
  const c = await client.connect();
  await chat.openRoom(1);
  c.ws.receive({ type: 'typing', room_id: 1, user_id: 42, username: 'bob' });
  c.ws.receive({ type: 'typing', room_id: 1, user_id: ME.id, username: 'ann' });
  assert.deepEqual(chat.typingIn(1).map((t) => t.username), ['bob']);
  srv.othersPost(1, 'done typing');
  await flush();
  assert.deepEqual(chat.typingIn(1), []);
  c.ws.receive({ type: 'typing', room_id: 1, user_id: 42, username: 'bob' });
  clock.advance(7_000);
  assert.deepEqual(chat.typingIn(1), []);
  assert.deepEqual(store.state.typing, {});
  chat.typing(1);
  chat.typing(1);
  assert.equal(c.ws.frames('typing').length, 1, 'throttled');
});

test('reading the room marks it read', async () => {
  const { srv, chat, socket, client } = await boot();
  await chat.loadRooms();
  socket.start();
  const c = await client.connect();
  await chat.openRoom(2);
  srv.othersPost(2, 'x');
  srv.othersPost(2, 'y');
  await flush();
  assert.equal(chat.room(2).unread, 2);
  chat.readingRoom = 2;
  chat.markRead(2);
  assert.equal(chat.room(2).unread, 0);
  assert.deepEqual(c.ws.frames('read').at(-1), { type: 'read', room_id: 2, seq: 2 });
  srv.othersPost(2, 'z');
  await flush();
  assert.equal(chat.room(2).unread, 0, 'arrivals in the room being read do not count');
  assert.deepEqual(c.ws.frames('read').at(-1), { type: 'read', room_id: 2, seq: 3 });
});

test('edits, deletions and reactions from others apply', async () => {
  const { srv, chat, socket, client } = await boot();
  await chat.loadRooms();
  socket.start();
  const c = await client.connect();
  await chat.openRoom(1);
  const m = srv.othersPost(1, 'typo');
  await flush();
  c.ws.receive({ type: 'message_updated', message: { ...m, body: 'fixed', edited_at: new Date().toISOString() } });
  assert.deepEqual(bodies(chat, 1), ['fixed']);
  c.ws.receive({ type: 'reaction', room_id: 1, message_id: m.id, emoji: '🎉', user_id: 42, added: true, reactions: [{ emoji: '🎉', count: 1, user_ids: [42] }] });
  assert.equal(chat.log(1).get(m.id).reactions[0].count, 1);
  c.ws.receive({ type: 'message_deleted', room_id: 1, message_id: m.id, seq: m.seq });
  assert.ok(chat.log(1).get(m.id).deleted);
  assert.equal(chat.log(1).get(m.id).body, '');
});

test('a message deleted while unread leaves the unread count of a room not open, once', async () => {
  const { srv, chat, socket, client } = await boot();
  srv.othersPost(2, 'while away', { deliver: false }); // counted by the server's room list
  await chat.loadRooms();
  socket.start();
  await client.connect();
  await chat.openRoom(1);
  chat.readingRoom = 1;
  const a = srv.othersPost(2, 'oops, wrong room');
  srv.othersPost(2, 'kept');
  await flush();
  assert.equal(chat.room(2).unread, 3);
  const del = (m) => {
    m.deleted = true;
    srv.broadcast(m.room_id, { type: 'message_deleted', room_id: m.room_id, message_id: m.id, seq: m.seq, message: { ...m, body: '' } });
  };
  del(a);
  await flush();
  assert.equal(chat.room(2).unread, 2, 'the deleted message is no longer unread');
  del(a); // the same frame again
  await flush();
  assert.equal(chat.room(2).unread, 2, 'counted out once');
  del(srv.rooms.get(2).msgs[0]); // one the log never held, from the room list's count
  await flush();
  assert.equal(chat.room(2).unread, 1);
  del(srv.rooms.get(2).msgs[0]);
  await flush();
  assert.equal(chat.room(2).unread, 1, 'counted out once without the log either');
  // The count then agrees with the server's, which leaves deleted messages out.
  const listed = (await srv.api().get('/api/chat/rooms')).rooms.find((r) => r.id === 2);
  assert.equal(listed.unread, 1);
  assert.ok(chat.log(2).get(a.id).deleted);
});

test('deletions that were never unread leave the count alone', async () => {
  const { srv, chat, socket, client } = await boot();
  await chat.loadRooms();
  socket.start();
  const c = await client.connect();
  await chat.openRoom(1);
  chat.readingRoom = 1;
  const read = srv.othersPost(2, 'read already');
  await flush();
  chat.markRead(2);
  assert.equal(chat.room(2).unread, 0);
  const unread = srv.othersPost(2, 'unread');
  chat.send(2, 'my own');
  await flush();
  assert.equal(chat.room(2).unread, 0, 'sending marks the room read');
  const later = srv.othersPost(2, 'later');
  await flush();
  assert.equal(chat.room(2).unread, 1);
  const mine = chat.log(2).messages().find((m) => m.body === 'my own');
  // Read before the marker, my own, and one in the room being read: no change.
  c.ws.receive({ type: 'message_deleted', room_id: 2, message_id: read.id, seq: read.seq, message: { ...read, deleted: true, body: '' } });
  c.ws.receive({ type: 'message_deleted', room_id: 2, message_id: unread.id, seq: unread.seq, message: { ...unread, deleted: true, body: '' } });
  c.ws.receive({ type: 'message_deleted', room_id: 2, message_id: mine.id, seq: mine.seq, message: { ...mine, deleted: true, body: '' } });
  assert.equal(chat.room(2).unread, 1);
  const here = srv.othersPost(1, 'in the open room');
  await flush();
  c.ws.receive({ type: 'message_deleted', room_id: 1, message_id: here.id, seq: here.seq, message: { ...here, deleted: true, body: '' } });
  assert.equal(chat.room(1).unread, 0);
  c.ws.receive({ type: 'message_deleted', room_id: 2, message_id: later.id, seq: later.seq, message: { ...later, deleted: true, body: '' } });
  assert.equal(chat.room(2).unread, 0, 'the one unread message, deleted');
  c.ws.receive({ type: 'message_deleted', room_id: 2, message_id: later.id, seq: later.seq, message: { ...later, deleted: true, body: '' } });
  assert.equal(chat.room(2).unread, 0, 'never below zero');
});

test('scroll-back pages with before_seq until the first message', async () => {
  const { srv, chat, socket, client } = await boot();
  for (let i = 1; i <= 120; i++) srv.othersPost(1, `m${i}`, { deliver: false });
  await chat.loadRooms();
  socket.start();
  await client.connect();
  await chat.openRoom(1);
  assert.equal(chat.log(1).messages().length, 50);
  assert.ok(chat.log(1).hasMoreBefore);
  assert.equal(await chat.loadOlder(1), true);
  assert.ok(srv.httpCalls.some(([, p, q]) => p === '/api/chat/rooms/1/messages' && q.before_seq === 71));
  assert.equal(await chat.loadOlder(1), false);
  assert.deepEqual(bodies(chat, 1), Array.from({ length: 120 }, (_, i) => `m${i + 1}`));
  assert.equal(await chat.loadOlder(1), false, 'nothing more to load');
});

test('reveal loads older pages until a search hit is held', async () => {
  const { srv, chat } = await boot();
  for (let i = 1; i <= 130; i++) srv.othersPost(1, `m${i}`, { deliver: false });
  await chat.loadRooms();
  await chat.openRoom(1);
  assert.equal(await chat.reveal(1, 7), true);
  assert.ok(chat.log(1).lo <= 7);
});

test('onLive: each message that joins the live end once — not history, not the ack after the broadcast', async () => {
  const { srv, chat, socket, client } = await boot();
  const live = [];
  chat.onLive = (m, room) => live.push(`${room.id}:${m.body}`);
  for (let i = 1; i <= 3; i++) srv.othersPost(1, `old ${i}`, { deliver: false });
  await chat.loadRooms();
  socket.start();
  await client.connect();
  await chat.openRoom(1);
  await chat.loadOlder(1);
  assert.deepEqual(live, [], 'history pages say nothing');
  srv.othersPost(1, 'live');
  chat.send(1, 'mine');
  srv.othersPost(2, 'elsewhere');
  await flush();
  assert.deepEqual(live, ['1:live', '1:mine', '2:elsewhere']);
});

test('onLive: messages a late arrival makes contiguous are reported too', async () => {
  const { srv, chat, socket, client } = await boot();
  const live = [];
  chat.onLive = (m) => live.push(m.body);
  await chat.loadRooms();
  socket.start();
  await client.connect();
  await chat.openRoom(1);
  srv.othersPost(1, 'a');
  const late = srv.othersPost(1, 'b', { deliver: false });
  srv.othersPost(1, 'c');
  await flush();
  assert.deepEqual(live, ['a']);
  srv.broadcast(1, { type: 'message', message: late });
  await flush();
  assert.deepEqual(live, ['a', 'b', 'c']);
});

test('a replay stopped at the server\'s cap (subscribed more) is paged over HTTP to the end', async () => {
  const { srv, chat, socket, client, clock } = await boot();
  srv.maxReplay = 3;
  await chat.loadRooms();
  socket.start();
  await client.connect();
  await chat.openRoom(1);
  srv.othersPost(1, 'm1');
  await flush();
  srv.kill(1012);
  await flush();
  for (let i = 2; i <= 250; i++) srv.othersPost(1, `m${i}`, { deliver: false });
  clock.advance(clock.nextDelay());
  await client.connect();
  await flush();
  for (let i = 0; i < 5; i++) await flush();
  const want = Array.from({ length: 250 }, (_, i) => `m${i + 1}`);
  assert.deepEqual(bodies(chat, 1), want, 'every message after the cursor, once, in order');
  const pages = gapFetches(srv).map(([, , q]) => q.after_seq);
  assert.equal(pages[0], 4, 'paging starts where the capped replay stopped');
});

test('a member who joins while the member list is on its way ends up in it', async () => {
  const store = createStore({});
  const server = [{ user_id: 7, username: 'ann' }];
  let hold = null;
  let calls = 0;
  const api = {
    user: ME,
    async get(path) {
      assert.match(path, /\/rooms\/1\/members$/);
      calls++;
      const snapshot = [...server]; // the answer is made now...
      if (calls === 1) await new Promise((r) => { hold = r; }); // ...and lands later
      return { members: snapshot, next_cursor: null };
    },
  };
  const chat = new ChatClient({ api, store });
  const load = chat.loadMembers(1);
  await flush();
  // Bob joins after the server answered, before the answer arrived: the
  // frame finds no list to add him to.
  server.push({ user_id: 42, username: 'bob' });
  chat.handle({ type: 'member_joined', room_id: 1, member: { user_id: 42, username: 'bob' } });
  hold();
  await load;
  assert.deepEqual(store.state.members[1].map((m) => m.user_id), [7, 42]);
  assert.equal(calls, 2, 'fetched again once');
  // Then a leave during a reload is not undone by the reload either.
  const reload = chat.loadMembers(1);
  server.pop();
  chat.handle({ type: 'member_left', room_id: 1, user_id: 42 });
  await reload;
  assert.deepEqual(store.state.members[1].map((m) => m.user_id), [7]);
});
