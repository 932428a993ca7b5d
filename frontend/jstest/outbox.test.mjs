import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Outbox } from '../web/assets/lib/outbox.js';
import { newClientMsgId } from '../web/assets/lib/ids.js';

function box() {
  let t = 0;
  let n = 0;
  const o = new Outbox({ now: () => t, newId: () => `c${++n}` });
  return { o, tick: (ms) => (t += ms) };
}

test('client ids are 128-bit hex and distinct', () => {
  const a = newClientMsgId();
  assert.match(a, /^[0-9a-f]{32}$/);
  assert.notEqual(a, newClientMsgId());
});

test('a new entry is due, a sent one only after the ack timeout', () => {
  const { o, tick } = box();
  const e = o.add(1, 'hi');
  assert.deepEqual(o.due().map((x) => x.client_msg_id), ['c1']);
  o.markSent(e.client_msg_id);
  assert.equal(o.due(10_000).length, 0);
  tick(10_000);
  assert.equal(o.due(10_000).length, 1, 'unacknowledged: resent with the same id');
  assert.equal(o.due()[0].client_msg_id, 'c1');
});

test('rate limited entries wait for their back-off', () => {
  const { o, tick } = box();
  const e = o.add(1, 'hi');
  o.markSent(e.client_msg_id);
  o.deferRetry(e.client_msg_id, 2000);
  assert.equal(o.nextRetryAt(), 2000);
  tick(1999);
  assert.equal(o.due().length, 0);
  tick(1);
  assert.equal(o.due().length, 1);
});

test('after a reconnect every pending entry is due again', () => {
  const { o } = box();
  const a = o.add(1, 'a');
  const b = o.add(2, 'b');
  o.markSent(a.client_msg_id);
  o.markSent(b.client_msg_id);
  o.resetAttempts();
  assert.deepEqual(o.due().map((x) => x.body), ['a', 'b'], 'in the order written');
});

test('acks resolve; failures wait for retry or discard', () => {
  const { o } = box();
  const a = o.add(1, 'a');
  const b = o.add(1, 'b');
  assert.equal(o.resolve(a.client_msg_id).body, 'a');
  assert.equal(o.resolve('unknown'), null);
  o.fail(b.client_msg_id, 'too long');
  assert.equal(o.due().length, 0);
  assert.equal(o.forRoom(1)[0].state, 'failed');
  o.retry(b.client_msg_id);
  assert.equal(o.due().length, 1);
  o.discard(b.client_msg_id);
  assert.equal(o.size, 0);
});
