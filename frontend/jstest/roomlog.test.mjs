import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RoomLog, normalizeReactions, reactedByMe } from '../web/assets/lib/roomlog.js';

const msg = (seq, extra = {}) => ({ id: 1000 + seq, room_id: 1, seq, user_id: 7, username: 'ann', body: `m${seq}`, created_at: '2025-03-12T10:00:00Z', reactions: [], ...extra });
const range = (a, b) => Array.from({ length: b - a + 1 }, (_, i) => msg(a + i));
const seqs = (log) => log.messages().map((m) => m.seq);

test('latest page, then older pages extend the window downwards', () => {
  const log = new RoomLog(1);
  log.addPage(range(51, 100).reverse(), 'latest'); // order does not matter
  assert.deepEqual([log.lo, log.hi], [51, 100]);
  assert.ok(log.hasMoreBefore);
  log.addPage(range(1, 50), 'before');
  assert.deepEqual(seqs(log), range(1, 100).map((m) => m.seq));
  assert.ok(!log.hasMoreBefore, 'seq 1 is the start');
});

test('an empty room', () => {
  const log = new RoomLog(1);
  log.addPage([], 'latest', true);
  assert.equal(log.afterSeq, 0);
  assert.ok(!log.hasMoreBefore);
  assert.equal(log.live(msg(1)).status, 'appended');
  assert.deepEqual(seqs(log), [1]);
});

test('live messages append; duplicates are ignored', () => {
  const log = new RoomLog(1);
  log.addPage(range(1, 3), 'latest', true);
  assert.equal(log.live(msg(4)).status, 'appended');
  assert.equal(log.live(msg(4)).status, 'duplicate');
  assert.equal(log.live(msg(2)).status, 'duplicate');
  assert.deepEqual(seqs(log), [1, 2, 3, 4]);
});

test('a message past hi+1 reports the gap; filling it drains what was held', () => {
  const log = new RoomLog(1);
  log.addPage(range(1, 5), 'latest', true);
  const r = log.live(msg(9));
  assert.equal(r.status, 'gap');
  assert.deepEqual(r.gap, { after_seq: 5, before_seq: 9 });
  assert.deepEqual(seqs(log), [1, 2, 3, 4, 5], 'nothing past the gap is shown');
  assert.ok(log.hasGap);
  log.live(msg(10));
  log.addPage(range(6, 8), 'after');
  assert.deepEqual(seqs(log), range(1, 10).map((m) => m.seq));
  assert.ok(!log.hasGap);
});

test('a replay overlapping what is held adds nothing twice (reconnect resume)', () => {
  const log = new RoomLog(1);
  log.addPage(range(1, 10), 'latest', true);
  for (const m of range(8, 14)) log.live(m);
  assert.deepEqual(seqs(log), range(1, 14).map((m) => m.seq));
  assert.equal(new Set(log.messages().map((m) => m.id)).size, 14);
});

test('a window placed from the room list continues live and pages below', () => {
  const log = new RoomLog(1, 20);
  assert.equal(log.afterSeq, 20);
  assert.deepEqual(seqs(log), []);
  assert.equal(log.live(msg(21)).status, 'appended');
  log.addPage(range(11, 20), 'before');
  assert.deepEqual(seqs(log), range(11, 21).map((m) => m.seq));
  assert.ok(log.hasMoreBefore);
});

test('messages below the window are not shown (they come with scroll-back)', () => {
  const log = new RoomLog(1);
  log.addPage(range(50, 60), 'latest');
  assert.equal(log.live(msg(10)).status, 'old');
  assert.deepEqual(log.messages()[0].seq, 50);
});

test('an echoed message replaces the held copy but keeps reactions it lacks', () => {
  const log = new RoomLog(1);
  log.addPage([msg(1, { reactions: [{ emoji: '👍', count: 1, user_ids: [3] }] })], 'latest', true);
  const echo = msg(1);
  delete echo.reactions;
  assert.equal(log.live(echo).status, 'duplicate');
  assert.equal(log.get(1001).reactions[0].emoji, '👍');
});

test('edits and deletes', () => {
  const log = new RoomLog(1);
  log.addPage(range(1, 3), 'latest', true);
  const v = log.version;
  assert.ok(log.update(msg(2, { body: 'changed', edited_at: '2025-03-12T10:05:00Z' })));
  assert.equal(log.get(1002).body, 'changed');
  assert.ok(log.version > v);
  assert.ok(!log.update(msg(99)), 'unknown message');
  assert.ok(log.markDeleted(1003));
  assert.equal(log.get(1003).body, '');
  assert.ok(log.get(1003).deleted);
  assert.ok(!log.markDeleted(1003), 'already a tombstone');
  assert.equal(log.live(msg(3, { body: 'm3', deleted: true })).status, 'duplicate', 'a replayed tombstone changes nothing');
});

test('reactions: full lists and single changes', () => {
  const log = new RoomLog(1);
  log.addPage(range(1, 1), 'latest', true);
  log.applyReaction(1001, { emoji: '🎉', user_id: 5, added: true }, 7);
  log.applyReaction(1001, { emoji: '🎉', user_id: 7, added: true }, 7);
  let r = log.get(1001).reactions;
  assert.deepEqual(r.map((x) => [x.emoji, x.count]), [['🎉', 2]]);
  assert.ok(reactedByMe(r[0], 7));
  log.applyReaction(1001, { emoji: '🎉', user_id: 7, added: false }, 7);
  log.applyReaction(1001, { emoji: '🎉', user_id: 5, added: false }, 7);
  assert.deepEqual(log.get(1001).reactions, []);
  log.applyReaction(1001, { reactions: [{ emoji: '👍', count: 2, user_ids: [1, 2] }] });
  r = log.get(1001).reactions;
  assert.equal(r[0].count, 2);
  assert.ok(!reactedByMe(r[0], 7));
  assert.ok(reactedByMe(r[0], 2));
});

test('reaction shapes are normalised', () => {
  assert.deepEqual(normalizeReactions({ '👍': 2 }), [{ emoji: '👍', count: 2, user_ids: [] }]);
  assert.deepEqual(normalizeReactions({ '👍': [1, 2] }), [{ emoji: '👍', count: 2, user_ids: [1, 2] }]);
  assert.deepEqual(normalizeReactions([{ emoji: 'x', count: 0, user_ids: [] }]), []);
  assert.deepEqual(normalizeReactions(null), []);
});

test('a live message before any page holds until the first page places the window', () => {
  const log = new RoomLog(1);
  const r = log.live(msg(31));
  assert.equal(r.status, 'gap');
  assert.equal(r.gap.after_seq, null);
  log.addPage(range(1, 30), 'latest', true);
  assert.deepEqual(seqs(log).at(-1), 31);
});
