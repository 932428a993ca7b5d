import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt, expiresSoon, identityFromToken, refreshDelay } from '../web/assets/lib/jwt.js';
import { fakeJwt } from './helpers.mjs';

const now = 1_700_000_000_000;
const sec = now / 1000;

test('decodes the payload, including base64url and UTF-8', () => {
  const t = fakeJwt({ sub: '42', name: 'zoë', role: 'admin', exp: sec + 900, iat: sec });
  assert.equal(decodeJwt(t).name, 'zoë');
  assert.deepEqual(identityFromToken(t), { id: 42, username: 'zoë', role: 'admin' });
  assert.equal(decodeJwt('nope'), null);
  assert.equal(decodeJwt('a.%%%.c'), null);
  assert.equal(identityFromToken(fakeJwt({ name: 'x' })), null);
  assert.equal(identityFromToken(fakeJwt({ sub: '7', role: 'root' })).role, 'user', 'unknown roles are not trusted as admin');
});

test('refreshes 60 s before expiry for the default 15-minute token', () => {
  const t = fakeJwt({ sub: '1', iat: sec, exp: sec + 900 });
  assert.equal(refreshDelay(t, now), 840_000);
});

test('short tokens refresh a fifth of their life early, at least 5 s', () => {
  assert.equal(refreshDelay(fakeJwt({ iat: sec, exp: sec + 100 }), now), 80_000);
  assert.equal(refreshDelay(fakeJwt({ iat: sec, exp: sec + 10 }), now), 5_000);
});

test('an expired or nearly expired token refreshes at once', () => {
  assert.equal(refreshDelay(fakeJwt({ iat: sec - 1000, exp: sec - 100 }), now), 0);
  assert.equal(refreshDelay(fakeJwt({ iat: sec - 890, exp: sec + 10 }), now), 0);
});

test('without exp the expires_in answer is used; without either, no timer', () => {
  assert.equal(refreshDelay('opaque', now, 900), 840_000);
  assert.equal(refreshDelay('opaque', now), null);
});

test('expiresSoon', () => {
  assert.ok(expiresSoon(fakeJwt({ exp: sec + 5 }), now));
  assert.ok(!expiresSoon(fakeJwt({ exp: sec + 60 }), now));
  assert.ok(expiresSoon('garbage', now));
});
