// Presence per room (lib/presence.js): snapshots, deltas, counts past the
// cap, and what is known about single users in a big room.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Presence, CAP } from '../web/assets/lib/presence.js';

const u = (id, name = `u${id}`) => ({ user_id: id, username: name });
const users = (from, n) => Array.from({ length: n }, (_, i) => u(from + i, `user${String(from + i).padStart(5, '0')}`));

test('a snapshot lists who is online; anyone else is offline in a small room', () => {
  const p = new Presence();
  assert.equal(p.online(1, 5), 'unknown', 'nothing heard yet');
  assert.equal(p.apply({ type: 'presence', room_id: 1, online: [u(5, 'bob'), u(6, 'ann')], count: 2 }), 1);
  assert.equal(p.online(1, 5), true);
  assert.equal(p.online(1, 9), false);
  assert.equal(p.count(1), 2);
  assert.equal(p.big(1), false);
  assert.deepEqual(p.list(1).map((x) => x.username), ['ann', 'bob']);
  assert.deepEqual(p.summary(1), { count: 2, big: false, truncated: false });
  assert.equal(p.drifted(1), false);
});

test('a snapshot without a count (an older server) counts its list', () => {
  const p = new Presence();
  p.apply({ type: 'presence', room_id: 1, online: [u(5), u(6), u(7)] });
  assert.equal(p.count(1), 3);
  assert.equal(p.big(1), false);
});

test('deltas: joins and leaves, duplicates change nothing, the frame count wins', () => {
  const p = new Presence();
  p.apply({ type: 'presence', room_id: 1, online: [u(1), u(2)], count: 2 });
  p.apply({ type: 'presence_delta', room_id: 1, joined: [u(3)], left: [u(1)], count: 2 });
  assert.equal(p.online(1, 1), false);
  assert.equal(p.online(1, 3), true);
  assert.equal(p.count(1), 2);
  // The same delta again (a replay, a duplicate): no change.
  p.apply({ type: 'presence_delta', room_id: 1, joined: [u(3)], left: [u(1)], count: 2 });
  assert.deepEqual(p.list(1).map((x) => x.user_id), [2, 3]);
  assert.equal(p.drifted(1), false);
  // A leave of someone never listed is a no-op.
  p.apply({ type: 'presence_delta', room_id: 1, joined: [], left: [u(99)], count: 2 });
  assert.equal(p.count(1), 2);
  // Leaving and coming back within one batch (a reconnect): online.
  p.apply({ type: 'presence_delta', room_id: 1, joined: [u(2)], left: [u(2)], count: 2 });
  assert.equal(p.online(1, 2), true);
  // Without a count, the list is counted.
  p.apply({ type: 'presence_delta', room_id: 1, joined: [u(4)] });
  assert.equal(p.count(1), 3);
});

test('out of order: a delta before the snapshot is replaced by it, and drift is told', () => {
  const p = new Presence();
  p.apply({ type: 'presence_delta', room_id: 1, joined: [u(3)], left: [], count: 5 });
  assert.equal(p.online(1, 3), true);
  assert.equal(p.drifted(1), true, 'five online but one known: fetch the list');
  p.apply({ type: 'presence', room_id: 1, online: [u(1), u(2), u(3), u(4), u(5)], count: 5 });
  assert.equal(p.drifted(1), false);
  // An HTTP answer read before that frame does not undo it.
  const gen = p.gen(1);
  p.apply({ type: 'presence_delta', room_id: 1, joined: [], left: [u(5)], count: 4 });
  assert.equal(p.applyHttp(1, { online: [u(1), u(2), u(3), u(4), u(5)], count: 5 }, gen), false);
  assert.equal(p.online(1, 5), false);
  assert.equal(p.applyHttp(1, { online: [u(1)], count: 1, next_cursor: '' }, p.gen(1)), true);
  assert.equal(p.count(1), 1);
  assert.equal(p.online(1, 2), false);
});

test('garbage in frames is ignored, not thrown', () => {
  const p = new Presence();
  assert.equal(p.apply(null), null);
  assert.equal(p.apply({ type: 'message' }), null);
  assert.equal(p.apply({ type: 'presence', room_id: 'x', online: [] }), null);
  p.apply({ type: 'presence', room_id: 1, online: [null, {}, { user_id: -1 }, u(2)], count: 'many' });
  assert.deepEqual(p.list(1).map((x) => x.user_id), [2]);
  assert.equal(p.count(1), 1);
  p.apply({ type: 'presence', room_id: 1, count: -4 });
  assert.equal(p.count(1), 1, 'a bad count changes nothing');
  p.apply({ type: 'presence_delta', room_id: 1, joined: 'bob', left: 7 });
  assert.equal(p.count(1), 1);
});

test('a truncated snapshot (servers before the count-only one): a big room, listed users online, the rest unknown', () => {
  const p = new Presence();
  const first = users(1, CAP);
  p.apply({ type: 'presence', room_id: 1, online: first, count: 950, truncated: true });
  assert.equal(p.big(1), true);
  assert.equal(p.count(1), 950);
  assert.equal(p.online(1, 1), true);
  assert.equal(p.online(1, CAP + 1), 'unknown');
  assert.deepEqual(p.summary(1), { count: 950, big: true, truncated: true });
  assert.equal(p.drifted(1), false, 'a big room is never "drifted"');
  // A count frame over a paged HTTP answer.
  assert.equal(p.applyHttp(2, { online: first, next_cursor: 'abc', count: 300 }, 0), true);
  assert.equal(p.big(2), true);
});

test('a count-only snapshot as the first frame of a room: big, everyone unknown until asked', () => {
  const p = new Presence();
  assert.equal(p.apply({ type: 'presence', room_id: 3, count: 950 }), 3);
  assert.equal(p.big(3), true);
  assert.equal(p.count(3), 950);
  assert.equal(p.online(3, 1), 'unknown');
  assert.deepEqual(p.list(3), []);
  assert.deepEqual(p.summary(3), { count: 950, big: true, truncated: false });
  assert.equal(p.drifted(3), false, 'a big room is never "drifted"');
  // The rows on screen are asked with ?user_ids=.
  const gen = p.gen(3);
  assert.deepEqual(p.unknownAmong(3, [1, 2]), [1, 2]);
  p.learn(3, [1, 2], { online: [u(1, 'amy')], count: 951 }, gen);
  assert.equal(p.online(3, 1), true);
  assert.equal(p.online(3, 2), false);
  assert.equal(p.count(3), 951);
  // Later count frames keep what was learned.
  p.apply({ type: 'presence', room_id: 3, count: 960 });
  assert.equal(p.online(3, 1), true);
  assert.equal(p.online(3, 2), false);
  assert.equal(p.count(3), 960);
});

test('crossing to big: count frames keep what was known, others become unknown; the user_ids answer fills in', () => {
  const p = new Presence();
  p.apply({ type: 'presence', room_id: 1, online: users(1, CAP), count: CAP });
  assert.equal(p.online(1, 500), false, 'small: not listed is offline');
  p.apply({ type: 'presence', room_id: 1, count: 240 });
  assert.equal(p.big(1), true);
  assert.equal(p.count(1), 240);
  assert.equal(p.online(1, 1), true, 'learned from the snapshot');
  assert.equal(p.online(1, 500), 'unknown', 'past the cap nobody unlisted can be told');
  assert.deepEqual(p.unknownAmong(1, [1, 500, 501]), [500, 501]);

  const gen = p.gen(1);
  p.learn(1, [500, 501, 1], { online: [u(500, 'zed')], count: 241 }, gen);
  assert.equal(p.online(1, 500), true);
  assert.equal(p.online(1, 501), false);
  assert.equal(p.online(1, 1), false, 'asked: gone since the snapshot');
  assert.equal(p.count(1), 241);
  assert.deepEqual(p.unknownAmong(1, [1, 500, 501, 502]), [502]);

  // A count frame came while the answer was on its way: its count stays.
  const old = p.gen(1);
  p.apply({ type: 'presence', room_id: 1, count: 260 });
  p.learn(1, [502], { online: [], count: 241 }, old);
  assert.equal(p.count(1), 260);
  assert.equal(p.online(1, 502), false, 'the answer about the user still counts');

  // Deltas in a big room still tell about the users they name.
  p.apply({ type: 'presence_delta', room_id: 1, joined: [u(502)], left: [u(500)], count: 260 });
  assert.equal(p.online(1, 502), true);
  assert.equal(p.online(1, 500), false);
});

test('back under the cap: a full snapshot makes the room small again', () => {
  const p = new Presence();
  p.apply({ type: 'presence', room_id: 1, online: users(1, CAP), count: 500, truncated: true });
  p.learn(1, [900], { online: [], count: 500 }, p.gen(1));
  assert.equal(p.online(1, 900), false);
  p.apply({ type: 'presence', room_id: 1, online: [u(900), u(1)], count: 2 });
  assert.equal(p.big(1), false);
  assert.equal(p.online(1, 900), true);
  assert.equal(p.online(1, 2), false, 'small again: not listed is offline, not unknown');
  assert.equal(p.count(1), 2);
});

test('a delta whose count passes the cap turns the room big', () => {
  const p = new Presence();
  p.apply({ type: 'presence', room_id: 1, online: users(1, CAP), count: CAP });
  p.apply({ type: 'presence_delta', room_id: 1, joined: [u(9000)], left: [], count: CAP + 1 });
  assert.equal(p.big(1), true);
  assert.equal(p.online(1, 9001), 'unknown');
});

test('forget drops one room or all', () => {
  const p = new Presence();
  p.apply({ type: 'presence', room_id: 1, online: [u(1)], count: 1 });
  p.apply({ type: 'presence', room_id: 2, online: [u(1)], count: 1 });
  p.forget(1);
  assert.equal(p.has(1), false);
  assert.equal(p.online(2, 1), true);
  p.forget();
  assert.equal(p.has(2), false);
  assert.equal(p.summary(2), null);
});

// ---- the ChatClient's wiring (chat.js) ----------------------------------

import { ChatClient } from '../web/assets/chat.js';
import { createStore } from '../web/assets/state.js';
import { FakeClock, flush } from './helpers.mjs';

function chatClient({ answer } = {}) {
  const store = createStore({});
  const clock = new FakeClock();
  const calls = [];
  const api = {
    user: { id: 7, username: 'ann', role: 'user' },
    async get(path, query) {
      calls.push({ path, query: { ...query } });
      const m = /\/rooms\/(\d+)\/online$/.exec(path);
      if (m) return answer(Number(m[1]), query ?? {});
      if (path === '/api/chat/rooms') return { rooms: [], next_cursor: null };
      return {};
    },
    async post() {
      return {};
    },
  };
  const chat = new ChatClient({ api, store, now: clock.now, setTimer: clock.setTimer, clearTimer: clock.clearTimer });
  const socket = { status: 'open', rooms: new Set([1, 2]), subscribe() {}, unsubscribe() {}, send() { return false; } };
  chat.attach(socket);
  const online = () => calls.filter((c) => c.path.endsWith('/online'));
  return { chat, store, clock, calls, online, socket };
}

test('frames reach the store: count, deltas, the DM partner and big rooms', () => {
  const { chat, store } = chatClient({ answer: () => ({ online: [] }) });
  chat.handle({ type: 'presence', room_id: 1, online: [u(42, 'bob')], count: 1 });
  assert.deepEqual(store.state.presence[1], { count: 1, big: false, truncated: false });
  assert.equal(chat.isOnline(1, 42), true);
  chat.handle({ type: 'presence_delta', room_id: 1, joined: [], left: [u(42, 'bob')], count: 0 });
  assert.equal(chat.isOnline(1, 42), false, 'the partner left');
  assert.equal(chat.onlineCount(1), 0);
  assert.equal(chat.onlineCount(5), null, 'never heard of: unknown');
  chat.handle({ type: 'presence', room_id: 2, online: users(1, CAP), count: 4000, truncated: true });
  assert.deepEqual(store.state.presence[2], { count: 4000, big: true, truncated: true });
  assert.equal(chat.isOnline(2, 9999), 'unknown');
  chat.handle({ type: 'presence', room_id: 2, count: 4100 });
  assert.equal(chat.onlineCount(2), 4100);
});

test('after a reconnect presence is known again once every subscribed room sent its snapshot', async () => {
  const { chat, store, clock, online, socket } = chatClient({ answer: () => ({ online: [], count: 0 }) });
  chat.handle({ type: 'presence', room_id: 1, online: [u(42)], count: 1 });
  chat.handle({ type: 'presence', room_id: 2, online: [u(43)], count: 1 });
  chat.handle({ type: 'presence', room_id: 3, online: [u(44)], count: 1 }); // a preview, since unsubscribed
  socket.status = 'waiting';
  chat.handle({ type: 'closed', code: 1006 });
  assert.equal(chat.isOnline(1, 42), 'unknown');
  socket.status = 'open';
  chat.handle({ type: 'ready' });
  assert.equal(store.state.presenceStale, true);
  assert.equal(chat.presence.has(3), false, 'not subscribed any more: forgotten');
  chat.handle({ type: 'presence', room_id: 1, online: [], count: 0 });
  assert.equal(store.state.presenceStale, true, 'room 2 still due');
  chat.handle({ type: 'presence', room_id: 2, online: [u(43)], count: 1 });
  assert.equal(store.state.presenceStale, false);
  assert.equal(chat.isOnline(1, 42), false);
  clock.advance(10_000);
  await flush();
  assert.equal(online().length, 0, 'no HTTP: the snapshots came on the socket');
});

test('a snapshot late after a reconnect is fetched over HTTP', async () => {
  const { chat, store, clock, online, socket } = chatClient({ answer: (rid) => ({ online: rid === 2 ? [u(43)] : [], count: rid === 2 ? 1 : 0, next_cursor: '' }) });
  chat.handle({ type: 'presence', room_id: 1, online: [u(42)], count: 1 });
  chat.handle({ type: 'presence', room_id: 2, online: [], count: 0 });
  socket.status = 'waiting';
  chat.handle({ type: 'closed', code: 1006 });
  socket.status = 'open';
  chat.handle({ type: 'ready' });
  chat.handle({ type: 'presence', room_id: 1, online: [u(42)], count: 1 });
  clock.advance(4_999);
  await flush();
  assert.equal(online().length, 0);
  clock.advance(1);
  await flush();
  assert.deepEqual(online().map((c) => [c.path, c.query.limit]), [['/api/chat/rooms/2/online', CAP]]);
  assert.equal(store.state.presenceStale, false);
  assert.equal(chat.isOnline(2, 43), true);
});

test('a delta that leaves the list and count apart fetches the list again, at most every 10 s', async () => {
  const { chat, clock, online } = chatClient({ answer: () => ({ online: [u(1), u(2), u(3)], count: 3, next_cursor: '' }) });
  chat.handle({ type: 'presence', room_id: 1, online: [u(1)], count: 1 });
  chat.handle({ type: 'presence_delta', room_id: 1, joined: [u(2)], left: [], count: 3 });
  await flush();
  assert.equal(online().length, 1);
  assert.equal(chat.isOnline(1, 3), true);
  chat.handle({ type: 'presence_delta', room_id: 1, joined: [u(4)], left: [], count: 9 });
  await flush();
  assert.equal(online().length, 1, 'throttled');
  clock.advance(10_000);
  chat.handle({ type: 'presence_delta', room_id: 1, joined: [u(5)], left: [], count: 9 });
  await flush();
  assert.equal(online().length, 2);
});

test('a big room: the rows shown are asked about in batches of 200, at most every 2 s, again after a count frame', async () => {
  const on = new Set([250, 420]);
  const { chat, clock, online } = chatClient({
    answer: (rid, q) => {
      const ids = String(q.user_ids ?? '').split(',').map(Number);
      return { online: ids.filter((id) => on.has(id)).map((id) => u(id)), count: 900 };
    },
  });
  // Small rooms ask nothing.
  chat.handle({ type: 'presence', room_id: 2, online: [u(1)], count: 1 });
  chat.watchPresence(2, [1, 2, 3]);
  await flush();
  assert.equal(online().length, 0);

  chat.handle({ type: 'presence', room_id: 1, online: users(1, CAP), count: 900, truncated: true });
  const rows = Array.from({ length: 300 }, (_, i) => 101 + i); // 101..400: half known from the snapshot
  chat.watchPresence(1, [...rows, 420]);
  await flush();
  const asked = online().map((c) => c.query.user_ids.split(',').map(Number));
  assert.deepEqual(asked.map((a) => a.length), [200, 1], 'only the unknown ones, ≤ 200 per query');
  assert.ok(asked.flat().every((id) => id > CAP));
  assert.equal(chat.isOnline(1, 250), true);
  assert.equal(chat.isOnline(1, 251), false);
  assert.equal(chat.isOnline(1, 420), true);
  assert.equal(chat.isOnline(1, 150), true, 'from the snapshot');

  // More rows shown at once: waits out the 2 s.
  chat.watchPresence(1, [...rows, 420, 500]);
  await flush();
  assert.equal(online().length, 2);
  clock.advance(2_000);
  await flush();
  assert.deepEqual(online().slice(2).map((c) => c.query.user_ids), ['500']);

  // A count frame: everyone shown is asked again, once per 2 s however many frames come.
  on.delete(250);
  chat.handle({ type: 'presence', room_id: 1, count: 901 });
  chat.handle({ type: 'presence', room_id: 1, count: 902 });
  await flush();
  assert.equal(online().length, 3);
  clock.advance(2_000);
  await flush();
  assert.equal(online().length, 5, 'all 302 rows again, in two queries');
  assert.equal(chat.isOnline(1, 250), false);

  // Stopped watching: no more queries.
  chat.watchPresence(1, []);
  chat.handle({ type: 'presence', room_id: 1, count: 903 });
  clock.advance(10_000);
  await flush();
  assert.equal(online().length, 5);
});

test('the paged list of who is online passes the cursor and remembers who it lists', async () => {
  const all = users(1, 120);
  const { chat } = chatClient({
    answer: (rid, q) => {
      const from = q.cursor ? Number(q.cursor) : 0;
      const page = all.slice(from, from + Number(q.limit));
      const next = from + page.length < all.length ? String(from + page.length) : '';
      return { online: page, next_cursor: next, count: 120 };
    },
  });
  chat.handle({ type: 'presence', room_id: 1, online: [], count: 5000, truncated: true });
  const p1 = await chat.onlinePage(1, { limit: 50 });
  assert.equal(p1.online.length, 50);
  assert.equal(p1.next_cursor, '50');
  assert.equal(p1.count, 120);
  const p3 = await chat.onlinePage(1, { limit: 50, cursor: '100' });
  assert.equal(p3.online.length, 20);
  assert.equal(p3.next_cursor, null, 'the last page');
  assert.equal(chat.isOnline(1, 110), true, 'listed: online');
  assert.equal(chat.isOnline(1, 60), 'unknown', 'a page not loaded');
});
