import test from 'node:test';
import assert from 'node:assert/strict';
import { chartBars, dayShort, niceCeil, usageSummary } from '../web/assets/lib/usage.js';

test('days are shown as day and month', () => {
  assert.equal(dayShort('2026-12-05'), '5 Dec');
  assert.equal(dayShort('2026-01-31'), '31 Jan');
  assert.equal(dayShort('not a day'), 'not a day');
  assert.equal(dayShort(undefined), '');
});

test('the chart top is a round number at or above the largest count', () => {
  assert.deepEqual([0, 1, 2, 3, 7, 10, 11, 40, 99, 101, 1500].map(niceCeil), [1, 1, 2, 5, 10, 10, 20, 50, 100, 200, 2000]);
});

test('bars fill one slot per day, scaled to the top, never negative', () => {
  const days = [{ day: '2026-12-01', count: 0 }, { day: '2026-12-02', count: 5 }, { day: '2026-12-03', count: 10 }, { day: '2026-12-04', count: 1 }];
  const { top, bars } = chartBars(days, { width: 400, height: 100, gap: 4 });
  assert.equal(top, 10);
  assert.equal(bars.length, 4);
  assert.deepEqual(bars.map((b) => b.h), [0, 50, 100, 10]);
  assert.deepEqual(bars.map((b) => b.y), [100, 50, 0, 90]);
  assert.deepEqual(bars.map((b) => b.x), [2, 102, 202, 302]);
  assert.ok(bars.every((b) => b.w === 96));
  // A lone message among thousands still shows.
  const tiny = chartBars([{ day: 'a', count: 1 }, { day: 'b', count: 5000 }], { height: 100 }).bars[0];
  assert.equal(tiny.h, 2);
  assert.deepEqual(chartBars([], {}).bars, []);
  assert.equal(chartBars(null).top, 1);
});

test('the summary names the total and the busiest day', () => {
  assert.equal(usageSummary([{ day: '2026-12-04', count: 2 }, { day: '2026-12-05', count: 3 }]),
    '5 messages in the last 2 days; the busiest day was 5 Dec with 3 messages.');
  assert.equal(usageSummary([{ day: '2026-12-05', count: 1 }]), '1 message in the last 1 day; the busiest day was 5 Dec with 1 message.');
  assert.equal(usageSummary([{ day: '2026-12-05', count: 0 }, { day: '2026-12-06', count: 0 }]), 'No messages in the last 2 days.');
  assert.equal(usageSummary([]), 'No figures yet.');
});
