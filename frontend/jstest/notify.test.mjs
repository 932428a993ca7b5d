import { test } from 'node:test';
import assert from 'node:assert/strict';
import { shouldAlert } from '../web/assets/ui/notify.js';

const now = Date.parse('2025-03-12T10:00:00Z');
const me = { id: 7, username: 'ann' };
const msg = (body, extra = {}) => ({ id: 1, room_id: 3, user_id: 9, username: 'bob', body, created_at: '2025-03-12T09:59:30Z', ...extra });
const on = { notifications: { desktop: true, sound: false, mentions_only: false } };

test('alerts for fresh messages from others outside the room in view', () => {
  const o = { me, settings: on, viewingRoomId: 5, visible: true, now };
  assert.ok(shouldAlert(msg('hi'), o));
  assert.ok(!shouldAlert(msg('hi', { user_id: 7 }), o), 'own message');
  assert.ok(!shouldAlert(msg('hi', { created_at: '2025-03-12T09:50:00Z' }), o), 'old: a replay after reconnect');
  assert.ok(!shouldAlert(msg('hi'), { ...o, viewingRoomId: 3 }), 'looking at the room');
  assert.ok(shouldAlert(msg('hi'), { ...o, viewingRoomId: 3, visible: false }), 'room open in a hidden tab');
  assert.ok(!shouldAlert(msg('hi'), { ...o, settings: { notifications: { desktop: false, sound: false } } }), 'switched off');
  assert.ok(!shouldAlert(msg('hi'), { ...o, settings: null }), 'settings not loaded');
});

test('mentions only', () => {
  const o = { me, settings: { notifications: { desktop: true, mentions_only: true } }, viewingRoomId: null, visible: false, now };
  assert.ok(shouldAlert(msg('hey @ann, look'), o));
  assert.ok(shouldAlert(msg('@ANN'), o));
  assert.ok(!shouldAlert(msg('hey ann'), o));
  assert.ok(!shouldAlert(msg('mail me at x@ann.com'), o));
  assert.ok(!shouldAlert(msg('@anne'), o));
});
