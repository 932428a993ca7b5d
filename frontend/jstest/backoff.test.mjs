import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay, overloadDelay, overloadedRetryAfter, restartDelay, MAX_RETRY_AFTER_MS } from '../web/assets/lib/backoff.js';

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

test('the overloaded close reason gives its retry hint; any other reason gives none', () => {
  assert.equal(overloadedRetryAfter('{"code":"overloaded","retry_after_ms":3000}'), 3000);
  assert.equal(overloadedRetryAfter('{"code":"overloaded","retry_after_ms":0}'), 0);
  assert.equal(overloadedRetryAfter('{"code":"overloaded","retry_after_ms":1e12}'), MAX_RETRY_AFTER_MS, 'capped');
  for (const r of ['too slow', '', null, undefined, '{', '{"code":"overloaded"}', '{"code":"overloaded","retry_after_ms":-5}', '{"code":"overloaded","retry_after_ms":"soon"}', '{"code":"busy","retry_after_ms":100}', '{}', 'null', '[1]']) {
    assert.equal(overloadedRetryAfter(r), null, `reason ${JSON.stringify(r)}`);
  }
});

test('after an overloaded close: at least the hint, plus up to half of it again', () => {
  assert.equal(overloadDelay(4000, 0, () => 0), 4000);
  assert.equal(overloadDelay(4000, 0, () => 0.5), 5000);
  assert.equal(overloadDelay(4000, 0, () => 0.999999), 6000);
  // A tiny hint never undercuts the ordinary backoff of the attempt.
  assert.equal(overloadDelay(10, 3, () => 0), backoffDelay(3, { random: () => 0 }));
  // Spread: a thousand shed clients do not all come back at one instant.
  const seen = new Set();
  for (let i = 0; i < 500; i++) {
    const d = overloadDelay(2000, 0);
    assert.ok(d >= 2000 && d <= 3000, `delay ${d}`);
    seen.add(d);
  }
  assert.ok(seen.size > 100, `only ${seen.size} distinct delays`);
});
