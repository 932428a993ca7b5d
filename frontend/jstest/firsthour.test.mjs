// The first hour's defects (issue 20): one connection banner for a REST
// outage and a lost socket, presence unknown while the socket is away, and
// rooms someone else added the user to.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectionBanner } from '../web/assets/lib/connbanner.js';
import { ChatClient } from '../web/assets/chat.js';
import { createStore } from '../web/assets/state.js';
import { flush } from './helpers.mjs';

const ME = { id: 7, username: 'ann', role: 'user' };

test('one banner: nothing while all is well, one Retry for socket and service', () => {
  assert.equal(connectionBanner({ down: false }, 'connected'), null);
  assert.equal(connectionBanner({ down: false }, 'connecting'), null, 'the first connect is no outage');

  const sock = connectionBanner({ down: false }, 'reconnecting');
  assert.equal(sock.state, 'reconnecting');
  assert.equal(sock.retry, true);
  assert.equal(sock.delayed, true, 'a blip must not flash');

  // Both sides down at once: still one banner, naming the service.
  const both = connectionBanner({ down: true, status: 503, service: 'chat', detail: 'chat-service is down.' }, 'reconnecting');
  assert.equal(both.state, 'service');
  assert.match(both.title, /unavailable \(503\)/);
  assert.match(both.text, /chat-service is down\./);
  assert.match(both.text, /delivered once connected/);
  assert.equal(both.retry, true);
  assert.equal(both.delayed, false);

  assert.match(connectionBanner({ down: true, status: 0 }, 'connected').title, /cannot reach the server/);

  const off = connectionBanner({ down: true, status: 0 }, 'offline');
  assert.equal(off.state, 'offline');
  assert.equal(off.retry, false, 'retrying cannot help a device without network');
});

function client(online = {}) {
  const store = createStore({});
  const calls = [];
  const api = {
    user: ME,
    async get(path) {
      calls.push(path);
      const m = /\/rooms\/(\d+)\/online$/.exec(path);
      if (m) return { online: online[m[1]] ?? [] };
      if (path === '/api/chat/rooms') return { rooms: [], next_cursor: null };
      return {};
    },
    async post() {
      return {};
    },
  };
  const chat = new ChatClient({ api, store });
  const socket = { status: 'open', subscribe() {}, unsubscribe() {}, send() { return false; } };
  chat.attach(socket);
  return { chat, store, calls, socket };
}

test('presence is unknown from a lost socket until it is fetched again', async () => {
  const online = { 1: [{ user_id: 42, username: 'bob' }] };
  const { chat, store, calls, socket } = client(online);
  chat.handle({ type: 'presence', room_id: 1, online: online[1] });
  chat.handle({ type: 'presence', room_id: 2, online: [{ user_id: 43, username: 'cy' }] });
  assert.equal(store.state.presenceStale, false);

  socket.status = 'waiting';
  chat.handle({ type: 'closed', code: 1006 });
  assert.equal(store.state.presenceStale, true, 'the socket is away: nobody can be shown online');

  // Back: presence is fetched for every room it was known in, then known.
  online[2] = [];
  socket.status = 'open';
  calls.length = 0;
  chat.handle({ type: 'ready' });
  assert.equal(store.state.presenceStale, true, 'not before the refresh');
  await flush();
  assert.deepEqual(calls.filter((c) => c.endsWith('/online')).sort(), ['/api/chat/rooms/1/online', '/api/chat/rooms/2/online']);
  assert.equal(store.state.presenceStale, false);
  assert.equal(chat.isOnline(2, 43), false, 'cy went away meanwhile');
  assert.equal(chat.isOnline(1, 42), true);
  assert.equal(chat.onlineCount(2), 0);
});

test('a refresh that lands after the socket dropped again leaves presence unknown', async () => {
  const { chat, store, socket } = client();
  chat.handle({ type: 'presence', room_id: 1, online: [] });
  chat.handle({ type: 'closed', code: 1006 });
  chat.handle({ type: 'ready' });
  socket.status = 'waiting';
  chat.handle({ type: 'closed', code: 1006 });
  await flush();
  assert.equal(store.state.presenceStale, true);
});

const room = { id: 9, name: 'design', kind: 'private', created_by: 42, last_seq: 0 };

test('a room someone else added the user to is new until opened', async () => {
  const { chat, store } = client();
  const told = [];
  chat.onInvited = (r, by) => told.push([r.name, by]);
  chat.handle({ type: 'member_joined', room_id: 9, member: { user_id: ME.id, username: 'ann', role: 'member' }, room, added_by: { user_id: 42, username: 'alice' } });
  assert.deepEqual(store.state.invited, { 9: { by: { user_id: 42, username: 'alice' } } });
  assert.deepEqual(told, [['design', { user_id: 42, username: 'alice' }]]);
  assert.equal(chat.room(9)?.is_member, true);

  // Someone else joining is no news for the user.
  chat.handle({ type: 'member_joined', room_id: 9, member: { user_id: 43, username: 'cy', role: 'member' }, room });
  assert.equal(told.length, 1);

  await chat.openRoom(9);
  assert.deepEqual(store.state.invited, {}, 'opened: no longer new');
});

test('rooms the user joined, created or is looking at are not invitations', async () => {
  const { chat, store } = client();
  let told = 0;
  chat.onInvited = () => told++;
  const pub = { id: 3, name: 'random', kind: 'public', last_seq: 0 };
  chat._upsertRoom({ ...pub, is_member: false });
  const joining = chat.join(3);
  chat.handle({ type: 'member_joined', room_id: 3, member: { user_id: ME.id, username: 'ann', role: 'member' }, room: pub });
  await joining;

  // A DM someone started: its first message speaks for it.
  chat.handle({ type: 'member_joined', room_id: 5, member: { user_id: ME.id, username: 'ann', role: 'member' }, room: { id: 5, name: 'dm', kind: 'dm', last_seq: 0 } });

  store.set({ currentRoomId: 4 });
  chat.handle({ type: 'member_joined', room_id: 4, member: { user_id: ME.id, username: 'ann', role: 'member' }, room: { ...pub, id: 4, name: 'seen' } });

  assert.equal(told, 0);
  assert.deepEqual(store.state.invited, {});
});
