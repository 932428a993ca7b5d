// Pins: the pure helpers (lib/pins.js), and PinClient with a real
// ChatClient and store against a fake API: a room's pin list loads newest
// pin first, follows message_updated and message_deleted frames, and one's
// own pin changes the room log and the list at once.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyPin, comparePins, dropPin, isPinned, pinActionLabel, pinCountText, pinnedByText } from '../web/assets/lib/pins.js';
import { ChatClient } from '../web/assets/chat.js';
import { PinClient } from '../web/assets/pins.js';
import { createStore } from '../web/assets/state.js';

const ME = { id: 7, username: 'ann' };
const msg = (id, o = {}) => ({ id, seq: id, room_id: 1, user_id: 8, username: 'bob', body: `m${id}`, created_at: '2026-01-01T00:00:00Z', pinned: false, pinned_by: null, pinned_at: null, ...o });
const pinned = (id, at, o = {}) => msg(id, { pinned: true, pinned_by: { user_id: 7, username: 'ann' }, pinned_at: at, ...o });
const ids = (list) => list.map((m) => m.id);

test('isPinned, labels', () => {
  assert.equal(isPinned(pinned(1, '2026-01-01T00:00:00Z')), true);
  assert.equal(isPinned(msg(1)), false);
  assert.equal(isPinned(pinned(1, '2026-01-01T00:00:00Z', { deleted: true })), false);
  assert.equal(isPinned(null), false);
  assert.equal(pinActionLabel(msg(1)), 'Pin message');
  assert.equal(pinActionLabel(pinned(1, '2026-01-01T00:00:00Z')), 'Unpin message');
  assert.equal(pinCountText(0), 'No pinned messages');
  assert.equal(pinCountText(1), '1 pinned message');
  assert.equal(pinCountText(12), '12 pinned messages');
  assert.equal(pinnedByText(pinned(1, 'x')), 'Pinned by ann');
  assert.equal(pinnedByText(pinned(1, 'x'), 'Ann Smith'), 'Pinned by Ann Smith');
  assert.equal(pinnedByText(msg(1)), 'Pinned');
});

test('applyPin: newest pin first; updates replace, unpins and tombstones leave', () => {
  let list = [];
  list = applyPin(list, pinned(1, '2026-01-01T00:01:00Z'));
  list = applyPin(list, pinned(2, '2026-01-01T00:03:00Z'));
  list = applyPin(list, pinned(3, '2026-01-01T00:02:00Z'));
  assert.deepEqual(ids(list), [2, 3, 1]);
  // An edit of a pinned message replaces it in place.
  list = applyPin(list, pinned(3, '2026-01-01T00:02:00Z', { body: 'edited' }));
  assert.deepEqual(ids(list), [2, 3, 1]);
  assert.equal(list[1].body, 'edited');
  // A message that is not pinned and not listed changes nothing (same list).
  assert.equal(applyPin(list, msg(9)), list);
  // Unpinned, deleted.
  list = applyPin(list, msg(2));
  assert.deepEqual(ids(list), [3, 1]);
  list = applyPin(list, pinned(3, '2026-01-01T00:02:00Z', { deleted: true }));
  assert.deepEqual(ids(list), [1]);
  // Pinned again later: first.
  list = applyPin(list, pinned(2, '2026-01-01T00:09:00Z'));
  assert.deepEqual(ids(list), [2, 1]);
  // Equal times: the newer message first.
  assert.ok(comparePins(pinned(4, '2026-01-01T00:00:00Z'), pinned(5, '2026-01-01T00:00:00Z')) > 0);
  assert.deepEqual(ids(dropPin(list, 2)), [1]);
  assert.equal(dropPin(list, 99), list);
  assert.deepEqual(applyPin(undefined, msg(1)), []);
});

class FakeApi {
  constructor() {
    this.user = ME;
    this.calls = [];
    this.pins = [pinned(2, '2026-01-01T00:02:00Z'), pinned(1, '2026-01-01T00:01:00Z')];
    this.fail = null;
  }

  async get(path) {
    this.calls.push(['GET', path]);
    if (path === '/api/chat/rooms/1/pins') return { messages: this.pins };
    throw Object.assign(new Error('not found'), { status: 404 });
  }

  async post(path) {
    this.calls.push(['POST', path]);
    if (this.fail) throw this.fail;
    const id = Number(path.split('/').pop());
    return pinned(id, '2026-01-01T00:05:00Z');
  }

  async del(path) {
    this.calls.push(['DELETE', path]);
    const id = Number(path.split('/').pop());
    return msg(id);
  }
}

function setup() {
  const api = new FakeApi();
  const store = createStore({});
  const chat = new ChatClient({ api, store, setTimer: () => 0, clearTimer: () => {} });
  const pins = new PinClient({ api, store, chat });
  chat._setRooms([{ id: 1, name: 'general', kind: 'public', is_member: true, unread: 0, last_read_seq: 0 }]);
  chat.log(1).addPage([pinned(1, '2026-01-01T00:01:00Z'), pinned(2, '2026-01-01T00:02:00Z'), msg(3)], 'latest', true);
  return { api, store, chat, pins };
}

test('PinClient: loads a room, follows frames, and pins through the API', async () => {
  const { api, store, chat, pins } = setup();
  // Frames before the first load are not kept: the load is the truth.
  chat.handle({ type: 'message_updated', message: pinned(3, '2026-01-01T00:03:00Z') });
  assert.equal(pins.of(1), undefined);
  await pins.load(1);
  assert.deepEqual(ids(store.state.pins[1].list), [2, 1]);

  // Someone else pins message 3: the list and the room log follow.
  chat.handle({ type: 'message_updated', message: pinned(3, '2026-01-01T00:04:00Z') });
  assert.deepEqual(ids(store.state.pins[1].list), [3, 2, 1]);
  assert.equal(chat.log(1).get(3).pinned, true);
  // A message_updated that changes nothing for pins keeps the same state.
  const before = store.state.pins;
  chat.handle({ type: 'message_updated', message: { ...msg(9), room_id: 2 } });
  assert.equal(store.state.pins, before);
  // Deleted: gone from the list, and the log's tombstone is not pinned.
  chat.handle({ type: 'message_deleted', room_id: 1, message_id: 2, seq: 2 });
  assert.deepEqual(ids(store.state.pins[1].list), [3, 1]);
  assert.equal(chat.log(1).get(2).pinned, false);

  // One's own unpin: the answer updates log and list before any frame.
  await pins.setPinned(chat.log(1).get(1), false);
  assert.deepEqual(api.calls.at(-1), ['DELETE', '/api/chat/rooms/1/pins/1']);
  assert.deepEqual(ids(store.state.pins[1].list), [3]);
  assert.equal(chat.log(1).get(1).pinned, false);
  // And pin again.
  await pins.setPinned(chat.log(1).get(1), true);
  assert.deepEqual(api.calls.at(-1), ['POST', '/api/chat/rooms/1/pins/1']);
  assert.deepEqual(ids(store.state.pins[1].list), [1, 3]);
  // A refused pin (the room's 51st) changes nothing and says why.
  api.fail = Object.assign(new Error('a room has at most 50 pinned messages; unpin one first'), { status: 422, code: 'too_many_pins' });
  await assert.rejects(pins.setPinned(chat.log(1).get(1), true), /at most 50/);
  assert.deepEqual(ids(store.state.pins[1].list), [1, 3]);
});

test('PinClient: a reconnect reloads the open room and forgets the others', async () => {
  const { api, store, pins } = setup();
  await pins.load(1);
  store.set({ pins: { ...store.state.pins, 5: { list: [], loaded: true, error: null } } });
  store.set({ currentRoomId: 1 });
  const gets = api.calls.filter((c) => c[0] === 'GET').length;
  pins.handle({ type: 'ready' });
  assert.deepEqual(Object.keys(store.state.pins), ['1']);
  await pins.loading.get(1);
  assert.equal(api.calls.filter((c) => c[0] === 'GET').length, gets + 1);
});

test('PinClient: a frame that arrives while the list loads is not undone by the answer', async () => {
  const { api, store, chat, pins } = setup();
  await pins.load(1);
  // A reload whose answer was read before an unpin of message 2 and a pin
  // of message 3, and arrives after both frames.
  let answer;
  api.get = (path) => {
    api.calls.push(['GET', path]);
    return new Promise((resolve) => { answer = resolve; });
  };
  const reload = pins.load(1);
  chat.handle({ type: 'message_updated', message: msg(2) });
  chat.handle({ type: 'message_updated', message: pinned(3, '2026-01-01T00:04:00Z') });
  assert.deepEqual(ids(store.state.pins[1].list), [3, 1]);
  answer({ messages: [pinned(2, '2026-01-01T00:02:00Z'), pinned(1, '2026-01-01T00:01:00Z')] });
  await reload;
  assert.deepEqual(ids(store.state.pins[1].list), [3, 1]);
  // Once loaded, frames apply as before and nothing is kept for later.
  chat.handle({ type: 'message_deleted', room_id: 1, message_id: 1, seq: 1 });
  assert.deepEqual(ids(store.state.pins[1].list), [3]);
  assert.equal(pins.during.size, 0);
});
