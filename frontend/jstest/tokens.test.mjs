import test from 'node:test';
import assert from 'node:assert/strict';
import { TOKEN_LIFETIMES, tokenExpiry, tokenFormError } from '../web/assets/lib/tokens.js';

const now = new Date('2026-01-10T12:00:00Z');

test('tokenExpiry says how long a token has left', () => {
  assert.deepEqual(tokenExpiry('2026-01-10T11:59:59Z', now), { expired: true, text: 'Expired' });
  assert.deepEqual(tokenExpiry('2026-01-10T12:00:00Z', now), { expired: true, text: 'Expired' });
  assert.deepEqual(tokenExpiry('2026-01-10T20:00:00Z', now), { expired: false, text: 'Expires within a day' });
  assert.deepEqual(tokenExpiry('2026-01-11T12:00:00Z', now), { expired: false, text: 'Expires within a day' });
  assert.deepEqual(tokenExpiry('2026-01-11T13:00:00Z', now), { expired: false, text: 'Expires in 2 days' });
  assert.deepEqual(tokenExpiry('2026-01-17T11:59:00Z', now), { expired: false, text: 'Expires in 7 days' });
  assert.deepEqual(tokenExpiry('2026-02-09T12:00:00Z', now), { expired: false, text: 'Expires in 30 days' });
  assert.deepEqual(tokenExpiry('not a date', now), { expired: false, text: '' });
});

test('the offered lifetimes are within what the server accepts', () => {
  for (const l of TOKEN_LIFETIMES) assert.ok(l.days >= 1 && l.days <= 365, l.label);
  assert.equal(TOKEN_LIFETIMES[0].days, 30);
});

test('tokenFormError names every documented code', () => {
  for (const code of ['name_required', 'invalid_name', 'invalid_expiry', 'too_many_tokens']) {
    assert.notEqual(tokenFormError(code, 'server text'), 'server text', code);
  }
  assert.equal(tokenFormError('other', 'server text'), 'server text');
});
