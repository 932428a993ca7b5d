import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReplicaPicker, pickIndex, wsUrlList } from '../web/assets/lib/wspick.js';
import { loadConfig } from '../web/assets/api.js';
import { ChatSocket, Status } from '../web/assets/socket.js';
import { FakeClock, FakeWS, flush } from './helpers.mjs';

const A = 'ws://chat-a:5003/ws';
const B = 'ws://chat-b:5003/ws';
const C = 'wss://chat-c/ws';

test('the URL list comes from chat_ws_urls, else chat_ws_url', () => {
  assert.deepEqual(wsUrlList([A, B], A), [A, B]);
  assert.deepEqual(wsUrlList([` ${A}/ `, B, A, 'http://x/ws', 42, null, ''], A), [A, B], 'trimmed, ws(s) only, no duplicates');
  assert.deepEqual(wsUrlList(undefined, A), [A], 'a server from before the list');
  assert.deepEqual(wsUrlList([], `${A}/`), [A]);
  assert.deepEqual(wsUrlList('not a list', C), [C]);
});

test('the start is random and deterministic with an injected random', () => {
  assert.equal(pickIndex(3, () => 0), 0);
  assert.equal(pickIndex(3, () => 0.34), 1);
  assert.equal(pickIndex(3, () => 0.999999), 2);
  assert.equal(pickIndex(3, () => 1), 2, 'a random() of 1 stays in range');
  assert.equal(pickIndex(3, () => NaN), 0);
  assert.equal(pickIndex(1, () => 0.9), 0);
  assert.equal(pickIndex(0, () => 0.9), 0);
  const seen = new Set();
  for (let i = 0; i < 200; i++) seen.add(pickIndex(2));
  assert.deepEqual([...seen].sort(), [0, 1], 'Math.random spreads pages over both');
});

test('failures rotate through the list from the pick; a connection stays', () => {
  const p = new ReplicaPicker([A, B, C], () => 0.5);
  assert.equal(p.url, B);
  assert.equal(p.failed(), C);
  assert.equal(p.allFailed, false);
  assert.equal(p.failed(), A);
  assert.equal(p.failed(), B, 'round robin');
  assert.equal(p.allFailed, true, 'every URL failed once');
  p.connected();
  assert.equal(p.url, B, 'connected: stays');
  assert.equal(p.allFailed, false);
  const one = new ReplicaPicker([A], () => 0.9);
  assert.equal(one.failed(), A, 'one URL: always that one');
});

test('loadConfig gives the list and the first URL', async () => {
  const fetchFn = (body) => async () => ({ ok: true, json: async () => body });
  const cfg = await loadConfig(fetchFn({ api_base_url: 'http://gw:5000/', chat_ws_url: A, chat_ws_urls: [A, B] }));
  assert.deepEqual(cfg, { apiBaseUrl: 'http://gw:5000', chatWsUrl: A, chatWsUrls: [A, B] });
  const old = await loadConfig(fetchFn({ api_base_url: 'http://gw:5000', chat_ws_url: A }));
  assert.deepEqual(old.chatWsUrls, [A]);
});

function setup({ urls = [A, B, C], pick = 0 } = {}) {
  FakeWS.reset();
  const clock = new FakeClock();
  const statuses = [];
  let refreshes = 0;
  const seqs = new Map([[1, 10]]);
  let first = true;
  const s = new ChatSocket({
    urls,
    WebSocket: FakeWS,
    getToken: () => 'tok',
    refresh: async () => {
      refreshes++;
    },
    afterSeq: (id) => seqs.get(id) ?? null,
    onStatus: (st) => statuses.push(st),
    now: clock.now,
    setTimer: clock.setTimer,
    clearTimer: clock.clearTimer,
    // The first call picks the replica; the rest are backoff jitter.
    random: () => {
      if (first) {
        first = false;
        return pick;
      }
      return 0.5;
    },
  });
  return { s, clock, statuses, seqs, refreshes: () => refreshes };
}

async function ready(ws) {
  ws.open();
  ws.receive({ type: 'ready', user: { id: 7 } });
}

test('the socket starts on the picked replica and reports it', async () => {
  const { s, statuses } = setup({ pick: 0.7 });
  s.start();
  await flush();
  assert.equal(FakeWS.last.url, C);
  await ready(FakeWS.last);
  assert.equal(s.status, Status.OPEN);
  assert.equal(statuses.at(-1).replica, 2);
  assert.equal(statuses.at(-1).url, C);
});

test('a replica that refuses is skipped with the usual backoff; once all failed the backoff keeps growing', async () => {
  const { s, clock } = setup({ pick: 0.4 });
  s.subscribe(1);
  s.start();
  await flush();
  assert.equal(FakeWS.last.url, B);
  FakeWS.last.serverClose(1006); // B does not answer
  assert.equal(s.url, C);
  assert.equal(clock.nextDelay(), 375, 'the first retry as before: 250–500 ms');
  clock.advance(375);
  await flush();
  assert.equal(FakeWS.last.url, C);
  FakeWS.last.serverClose(1006);
  assert.equal(clock.nextDelay(), 750);
  clock.advance(750);
  await flush();
  assert.equal(FakeWS.last.url, A);
  FakeWS.last.serverClose(1006);
  assert.ok(s.replicas.allFailed);
  assert.equal(clock.nextDelay(), 1500, 'all failed: the backoff goes on growing');
  clock.advance(1500);
  await flush();
  assert.equal(FakeWS.last.url, B, 'round robin');
  await ready(FakeWS.last);
  assert.deepEqual(FakeWS.last.frames('subscribe'), [{ type: 'subscribe', room_id: 1, after_seq: 10 }]);
  assert.equal(s.replica, 1);
});

test('a dropped connection resumes on the next replica after the newest seq; a connection stays', async () => {
  const { s, clock, seqs, statuses } = setup({ urls: [A, B], pick: 0 });
  s.subscribe(1);
  s.start();
  await flush();
  const wsA = FakeWS.last;
  assert.equal(wsA.url, A);
  await ready(wsA);
  // Long enough for pings: the connection stays on A.
  for (let i = 0; i < 3; i++) {
    clock.advance(25_000);
    FakeWS.last.receive({ type: 'pong' });
  }
  assert.equal(FakeWS.all.length, 1);
  seqs.set(1, 42);
  wsA.serverClose(1012); // replica A shuts down
  const delay = clock.nextDelay();
  assert.ok(delay >= 100 && delay <= 1100, 'the restart delay as before');
  clock.advance(delay);
  await flush();
  const wsB = FakeWS.last;
  assert.equal(wsB.url, B);
  wsB.open();
  assert.deepEqual(wsB.sent, [{ type: 'auth', token: 'tok' }], 'auth first, as always');
  wsB.receive({ type: 'ready', user: { id: 7 } });
  assert.deepEqual(wsB.frames('subscribe'), [{ type: 'subscribe', room_id: 1, after_seq: 42 }]);
  assert.equal(statuses.at(-1).status, Status.OPEN);
  assert.equal(statuses.at(-1).replica, 1);
  // A dead connection (no pong) moves on too: back to A.
  clock.advance(25_000);
  clock.advance(10_000);
  assert.equal(s.url, A);
});

test('a refused token is not the replica\'s fault, unless the renewed one is refused too', async () => {
  const h = setup({ urls: [A, B], pick: 0.9 });
  h.s.start();
  await flush();
  await ready(FakeWS.last);
  FakeWS.last.serverClose(4401);
  await flush();
  assert.equal(h.refreshes(), 1);
  h.clock.advance(0);
  await flush();
  assert.equal(FakeWS.last.url, B);
  // Refused again with the renewed token: this replica may be the problem.
  FakeWS.last.open();
  FakeWS.last.serverClose(4401);
  await flush();
  assert.equal(h.refreshes(), 2);
  h.clock.advance(h.clock.nextDelay());
  await flush();
  assert.equal(FakeWS.last.url, A);
  await ready(FakeWS.last);
  FakeWS.last.serverClose(4401);
  await flush();
  h.clock.advance(h.clock.nextDelay());
  await flush();
  assert.equal(FakeWS.last.url, A, 'a connection in between: the first refusal stays again');
});

test('no ready within the auth timeout moves to the next replica', async () => {
  const { s, clock } = setup({ urls: [A, B], pick: 0 });
  s.start();
  await flush();
  FakeWS.last.open();
  clock.advance(10_000);
  assert.equal(s.status, Status.WAITING);
  clock.advance(clock.nextDelay());
  await flush();
  assert.equal(FakeWS.last.url, B);
});

test('a single url keeps working as before', async () => {
  FakeWS.reset();
  const clock = new FakeClock();
  const s = new ChatSocket({ url: A, WebSocket: FakeWS, getToken: () => 't', refresh: async () => {}, now: clock.now, setTimer: clock.setTimer, clearTimer: clock.clearTimer, random: () => 0.99 });
  s.start();
  await flush();
  assert.equal(FakeWS.last.url, A);
  FakeWS.last.serverClose(1006);
  clock.advance(clock.nextDelay());
  await flush();
  assert.equal(FakeWS.last.url, A);
});
