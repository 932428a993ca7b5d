import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Api, ApiError, REFRESH_KEY } from '../web/assets/api.js';
import { FakeClock, MemoryStorage, fakeJwt, json, flush } from './helpers.mjs';

function setup(handler) {
  const clock = new FakeClock();
  const storage = new MemoryStorage();
  const calls = [];
  const fetch = async (url, init) => {
    const u = new URL(url);
    const body = init.body ? JSON.parse(init.body) : undefined;
    calls.push({ method: init.method, path: u.pathname + u.search, auth: init.headers.Authorization, body });
    return handler({ method: init.method, path: u.pathname, query: u.searchParams, auth: init.headers.Authorization, body });
  };
  const api = new Api({ baseUrl: 'http://gw:5000/', fetch, storage, now: clock.now, setTimer: clock.setTimer, clearTimer: clock.clearTimer, locks: null });
  const events = [];
  for (const t of ['token', 'session', 'logout', 'service']) api.on(t, (d) => events.push([t, d]));
  return { api, clock, storage, calls, events };
}

const sec = () => Math.floor(1_700_000_000_000 / 1000);
function session(n, ttl = 900, user = { id: 7, username: 'ann', role: 'user' }) {
  const iat = sec();
  return { user, access_token: fakeJwt({ sub: String(user.id), name: user.username, role: user.role, iat, exp: iat + ttl, n }), refresh_token: `rt${n}`, expires_in: ttl };
}

test('login keeps the access token in memory and the refresh token in storage', async () => {
  const { api, storage, calls } = setup(({ path }) => (path === '/api/auth/login' ? json(200, session(1)) : json(404, {})));
  const u = await api.login('ann', 'pw');
  assert.equal(u.username, 'ann');
  assert.equal(storage.getItem(REFRESH_KEY), 'rt1');
  assert.ok(api.token.includes('.'));
  assert.equal(calls[0].auth, undefined, 'no bearer on login');
  assert.deepEqual(calls[0].body, { username: 'ann', password: 'pw' });
});

test('requests carry the bearer token; errors become ApiError with code and message', async () => {
  const { api } = setup(({ path, auth }) => {
    if (path === '/api/auth/login') return json(200, session(1));
    if (path === '/api/chat/rooms') return auth?.startsWith('Bearer ') ? json(200, { rooms: [] }) : json(401, {});
    return json(422, { error: { code: 'empty_body', message: 'message body must not be empty' } });
  });
  await api.login('ann', 'pw');
  assert.deepEqual(await api.get('/api/chat/rooms'), { rooms: [] });
  await assert.rejects(api.post('/api/chat/rooms/1/messages', { body: ' ' }), (err) => {
    assert.ok(err instanceof ApiError);
    assert.equal(err.status, 422);
    assert.equal(err.code, 'empty_body');
    assert.equal(err.message, 'message body must not be empty');
    return true;
  });
});

test('a 401 refreshes once and retries the request', async () => {
  let refreshed = 0;
  const { api, calls, storage } = setup(({ path, auth, body }) => {
    if (path === '/api/auth/login') return json(200, session(1));
    if (path === '/api/auth/refresh') {
      refreshed++;
      assert.equal(body.refresh_token, 'rt1');
      return json(200, session(2));
    }
    if (auth?.includes(session(2).access_token.split('.')[1])) return json(200, { ok: true });
    return json(401, { error: { code: 'token_expired', message: 'expired' } });
  });
  await api.login('ann', 'pw');
  assert.deepEqual(await api.get('/api/users/profiles/me'), { ok: true });
  assert.equal(refreshed, 1);
  assert.equal(storage.getItem(REFRESH_KEY), 'rt2', 'the rotated refresh token is stored');
  assert.equal(calls.filter((c) => c.path === '/api/users/profiles/me').length, 2);
});

test('a second 401 after the refresh is returned, not looped', async () => {
  let n = 0;
  const { api } = setup(({ path }) => {
    if (path === '/api/auth/login') return json(200, session(1));
    if (path === '/api/auth/refresh') return json(200, session(2 + n++));
    return json(401, { error: { code: 'forbidden_here', message: 'no' } });
  });
  await api.login('ann', 'pw');
  await assert.rejects(api.get('/api/x'), (e) => e.status === 401);
  assert.equal(n, 1);
});

test('concurrent 401s share one refresh (refresh tokens rotate)', async () => {
  let refreshes = 0;
  const { api } = setup(async ({ path, auth }) => {
    if (path === '/api/auth/login') return json(200, session(1));
    if (path === '/api/auth/refresh') {
      refreshes++;
      await flush(2);
      return json(200, session(2));
    }
    return auth?.includes(session(2).access_token.split('.')[1]) ? json(200, {}) : json(401, {});
  });
  await api.login('ann', 'pw');
  await Promise.all([api.get('/a'), api.get('/b'), api.get('/c')]);
  assert.equal(refreshes, 1);
});

test('the token is refreshed shortly before it expires', async () => {
  let refreshes = 0;
  const { api, clock } = setup(({ path }) => {
    if (path === '/api/auth/login') return json(200, session(1));
    if (path === '/api/auth/refresh') return json(200, session(2 + refreshes++));
    return json(404, {});
  });
  await api.login('ann', 'pw');
  assert.equal(clock.nextDelay(), 840_000);
  clock.advance(839_999);
  assert.equal(refreshes, 0);
  clock.advance(1);
  await flush();
  assert.equal(refreshes, 1);
});

test('a refused refresh ends the session; an unreachable server does not', async () => {
  let mode = 'down';
  const { api, storage, events, clock } = setup(({ path }) => {
    if (path === '/api/auth/login') return json(200, session(1));
    if (path === '/api/auth/refresh') {
      if (mode === 'down') return json(503, { error: { code: 'upstream_unavailable', message: 'auth-service is unavailable' } });
      return json(401, { error: { code: 'refresh_token_reused', message: 'reused' } });
    }
    return json(404, {});
  });
  await api.login('ann', 'pw');
  await assert.rejects(api.refresh(), (e) => e.status === 503);
  assert.equal(storage.getItem(REFRESH_KEY), 'rt1', 'kept while the server is down');
  assert.ok(api.token);
  assert.ok(events.some(([t, d]) => t === 'service' && d.down && d.message === 'auth-service is unavailable'));
  assert.equal(clock.nextDelay(), 10_000, 'retried later');
  mode = 'refused';
  await assert.rejects(api.refresh(), (e) => e.code === 'refresh_token_reused');
  assert.equal(storage.getItem(REFRESH_KEY), null);
  assert.equal(api.token, null);
  assert.deepEqual(events.filter(([t]) => t === 'logout').map(([, d]) => d.reason), ['refresh_token_reused']);
});

test('restore uses the stored refresh token', async () => {
  const { api, storage } = setup(({ path, body }) => (path === '/api/auth/refresh' && body.refresh_token === 'saved' ? json(200, session(5)) : json(401, {})));
  assert.equal(await api.restore(), false, 'nothing stored');
  storage.setItem(REFRESH_KEY, 'saved');
  assert.equal(await api.restore(), true);
  assert.equal(api.user.username, 'ann');
  assert.equal(storage.getItem(REFRESH_KEY), 'rt5');
});

test('logout tells the server and forgets everything', async () => {
  const { api, storage, calls, events } = setup(({ path }) => (path === '/api/auth/login' ? json(200, session(1)) : new Response(null, { status: 204 })));
  await api.login('ann', 'pw');
  await api.logout();
  const call = calls.find((c) => c.path === '/api/auth/logout');
  assert.deepEqual(call.body, { refresh_token: 'rt1' });
  assert.equal(storage.getItem(REFRESH_KEY), null);
  assert.equal(api.token, null);
  assert.deepEqual(events.filter(([t]) => t === 'logout').map(([, d]) => d.reason), ['logout']);
});

test('network failures and 503s raise the service banner; success lowers it', async () => {
  let up = false;
  const clock = new FakeClock();
  const api = new Api({
    baseUrl: 'http://gw', storage: new MemoryStorage(), now: clock.now, setTimer: clock.setTimer, clearTimer: clock.clearTimer, locks: null,
    fetch: async () => {
      if (!up) throw new TypeError('Failed to fetch');
      return json(200, {});
    },
  });
  const ev = [];
  api.on('service', (s) => ev.push(s.down));
  await assert.rejects(api.request('GET', '/health', { auth: false }), (e) => e.status === 0 && e.code === 'network_error' && e.transient);
  up = true;
  await api.request('GET', '/health', { auth: false });
  await api.request('GET', '/health', { auth: false });
  assert.deepEqual(ev, [true, false]);
});

test('query parameters skip empty values', async () => {
  const { api, calls } = setup(() => json(200, {}));
  await api.request('GET', '/api/chat/rooms/1/messages', { query: { before_seq: 40, after_seq: null, limit: 50, q: '' }, auth: false });
  assert.equal(calls[0].path, '/api/chat/rooms/1/messages?before_seq=40&limit=50');
});
