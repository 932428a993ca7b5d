import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clock, continues, dateOnly, dayLabel, fullTime, listTime, messageTime, relativeTime, sameDay, toDate } from '../web/assets/lib/timefmt.js';

// Local times, so the tests hold in any time zone.
const now = new Date(2025, 2, 12, 15, 30); // Wed 12 Mar 2025 15:30

test('clock is 24-hour HH:MM', () => {
  assert.equal(clock(new Date(2025, 0, 1, 9, 5)), '09:05');
  assert.equal(messageTime(new Date(2025, 0, 1, 23, 59).toISOString()), '23:59');
  assert.equal(messageTime('not a date'), '');
  assert.equal(toDate(null), null);
});

test('day labels', () => {
  assert.equal(dayLabel(new Date(2025, 2, 12, 0, 1), now), 'Today');
  assert.equal(dayLabel(new Date(2025, 2, 11, 23, 59), now), 'Yesterday');
  assert.equal(dayLabel(new Date(2025, 2, 8, 12), now), 'Saturday');
  assert.equal(dayLabel(new Date(2025, 1, 20, 12), now), 'Thu 20 Feb');
  assert.equal(dayLabel(new Date(2024, 11, 31, 12), now), 'Tue 31 Dec 2024');
});

test('list times', () => {
  assert.equal(listTime(new Date(2025, 2, 12, 8, 0), now), '08:00');
  assert.equal(listTime(new Date(2025, 2, 11, 8, 0), now), 'Yesterday');
  assert.equal(listTime(new Date(2025, 2, 9, 8, 0), now), 'Sun');
  assert.equal(listTime(new Date(2025, 0, 9, 8, 0), now), '9 Jan');
});

test('relative times', () => {
  assert.equal(relativeTime(new Date(now - 10_000), now), 'just now');
  assert.equal(relativeTime(new Date(now - 5 * 60_000), now), '5 min ago');
  assert.equal(relativeTime(new Date(now - 3 * 3600_000), now), '3 h ago');
  assert.equal(relativeTime(new Date(2025, 2, 9, 12), now), '3 days ago');
  assert.equal(relativeTime(new Date(2024, 5, 1), now), '1 Jun 2024');
});

test('full time for tooltips', () => {
  assert.equal(fullTime(new Date(2025, 2, 12, 14, 5)), 'Wed 12 Mar 2025, 14:05');
});

test('grouping: same author within five minutes on the same day', () => {
  const a = { user_id: 1, created_at: new Date(2025, 2, 12, 10, 0).toISOString() };
  assert.ok(continues(a, { user_id: 1, created_at: new Date(2025, 2, 12, 10, 4).toISOString() }));
  assert.ok(!continues(a, { user_id: 2, created_at: new Date(2025, 2, 12, 10, 1).toISOString() }));
  assert.ok(!continues(a, { user_id: 1, created_at: new Date(2025, 2, 12, 10, 6).toISOString() }));
  assert.ok(!continues(null, a));
  const late = { user_id: 1, created_at: new Date(2025, 2, 12, 23, 59).toISOString() };
  assert.ok(!continues(late, { user_id: 1, created_at: new Date(2025, 2, 13, 0, 1).toISOString() }));
  assert.ok(sameDay(new Date(2025, 2, 12, 0, 0), new Date(2025, 2, 12, 23, 59)));
});

test('dates only, today included (the admin page\'s "Joined" column)', () => {
  assert.equal(dateOnly(new Date(2025, 2, 12, 8, 0)), '12 Mar 2025');
  assert.equal(dateOnly(new Date(2026, 11, 5, 23, 59).toISOString()), '5 Dec 2026');
  assert.equal(dateOnly(new Date(2024, 0, 1)), '1 Jan 2024');
  assert.equal(dateOnly(''), '');
  assert.equal(dateOnly('garbage'), '');
});
