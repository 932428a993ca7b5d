import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay, restartDelay } from '../web/assets/lib/backoff.js';

test('grows exponentially, with jitter between half and all of the step', () => {
  const lo = (n) => backoffDelay(n, { random: () => 0 });
  const hi = (n) => backoffDelay(n, { random: () => 0.999999 });
  assert.deepEqual([0, 1, 2, 3, 4].map(lo), [250, 500, 1000, 2000, 4000]);
  assert.deepEqual([0, 1, 2, 3, 4].map(hi), [500, 1000, 2000, 4000, 8000]);
});

test('is capped', () => {
  assert.equal(backoffDelay(50, { random: () => 0.999999 }), 30_000);
  assert.equal(backoffDelay(1e9, { random: () => 0 }), 15_000);
  assert.equal(backoffDelay(-3, { random: () => 0 }), 250);
});

test('spreads reconnects: many clients do not pick one delay', () => {
  const seen = new Set();
  for (let i = 0; i < 200; i++) seen.add(backoffDelay(5));
  assert.ok(seen.size > 50, `only ${seen.size} distinct delays`);
});

test('restart delay is short and jittered', () => {
  assert.equal(restartDelay(() => 0), 100);
  assert.equal(restartDelay(() => 0.5), 600);
  assert.ok(restartDelay() <= 1100);
});
