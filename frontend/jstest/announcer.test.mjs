import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ANNOUNCE_MAX_AGE_MS, Announcer, announcement } from '../web/assets/lib/announcer.js';
import { FakeClock } from './helpers.mjs';

const NOW = Date.parse('2026-03-12T10:00:00Z');
const me = { id: 7, username: 'ann' };
const general = { id: 1, name: 'General', kind: 'public' };
const dm = { id: 5, name: 'dm', kind: 'dm' };
const msg = (extra = {}) => ({ id: 100, room_id: 1, seq: 9, user_id: 42, username: 'bob', body: 'hello there', created_at: new Date(NOW - 1000).toISOString(), ...extra });
const opts = (extra = {}) => ({ me, viewingRoomId: 1, authorName: 'Bob B.', roomName: 'General', now: NOW, ...extra });

test('in the room being read: author and text; one\'s own as "You"', () => {
  assert.equal(announcement(msg(), general, opts()), 'Bob B.: hello there');
  assert.equal(announcement(msg({ user_id: 7 }), general, opts()), 'You: hello there');
});

test('other rooms: direct messages and mentions speak, the rest does not', () => {
  const elsewhere = opts({ viewingRoomId: 3 });
  assert.equal(announcement(msg({ room_id: 5 }), dm, elsewhere), 'Direct message from Bob B.: hello there');
  assert.equal(announcement(msg({ body: 'ping @ann, look' }), general, elsewhere), 'Bob B. mentioned you in General: ping @ann, look');
  assert.equal(announcement(msg({ body: 'mail ann@example.com' }), general, elsewhere), null, 'an address is not a mention');
  assert.equal(announcement(msg(), general, elsewhere), null);
  assert.equal(announcement(msg({ user_id: 7, room_id: 5 }), dm, elsewhere), null, 'one\'s own message elsewhere');
});

test('deleted messages and replays after a reconnect say nothing', () => {
  assert.equal(announcement(msg({ deleted: true }), general, opts()), null);
  const old = new Date(NOW - ANNOUNCE_MAX_AGE_MS - 1).toISOString();
  assert.equal(announcement(msg({ created_at: old }), general, opts()), null);
  assert.equal(announcement(msg(), null, opts()), null);
});

test('long text is cut; whitespace collapsed', () => {
  const text = announcement(msg({ body: `a\n\n${'x'.repeat(400)}` }), general, opts());
  assert.ok(text.length < 300);
  assert.ok(text.startsWith('Bob B.: a x'));
  assert.ok(text.endsWith('…'));
});

test('each message is said once, after a short pause', () => {
  const clock = new FakeClock();
  const said = [];
  const a = new Announcer({ say: (t) => said.push(t), setTimer: clock.setTimer });
  assert.equal(a.push('m1', 'Bob: hi'), true);
  assert.equal(a.push('m1', 'Bob: hi'), false, 'the ack after the broadcast, or a replay');
  assert.equal(a.push('m2', null), false, 'nothing to say');
  assert.deepEqual(said, []);
  clock.advance(300);
  assert.deepEqual(said, ['Bob: hi']);
  a.push('m1', 'Bob: hi');
  clock.advance(300);
  assert.deepEqual(said, ['Bob: hi']);
});

test('a burst becomes one line', () => {
  const clock = new FakeClock();
  const said = [];
  const a = new Announcer({ say: (t) => said.push(t), setTimer: clock.setTimer, maxBatch: 3 });
  for (let i = 1; i <= 3; i++) a.push(`a${i}`, `Bob: ${i}`);
  clock.advance(300);
  assert.deepEqual(said, ['Bob: 1', 'Bob: 2', 'Bob: 3'], 'up to maxBatch each');
  said.length = 0;
  for (let i = 1; i <= 12; i++) a.push(`b${i}`, `Bob: ${i}`);
  clock.advance(300);
  assert.deepEqual(said, ['12 new messages. Latest: Bob: 12']);
});

test('what it remembers is bounded', () => {
  const clock = new FakeClock();
  const a = new Announcer({ say: () => {}, setTimer: clock.setTimer, remember: 10 });
  for (let i = 0; i < 50; i++) a.push(`m${i}`, 'x');
  assert.equal(a.seen.size, 10);
});

test('formatting markers are not read out', () => {
  assert.equal(announcement(msg({ body: '**ship** it, see [the plan](https://a.io)\n```\nmake\n```' }), general, opts()), 'Bob B.: ship it, see the plan make');
});
