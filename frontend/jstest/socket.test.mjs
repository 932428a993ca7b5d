import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChatSocket, Status } from '../web/assets/socket.js';
import { FakeClock, FakeWS, flush } from './helpers.mjs';

function setup(opts = {}) {
  FakeWS.reset();
  const clock = new FakeClock();
  let token = 't1';
  let refreshes = 0;
  const events = [];
  const statuses = [];
  const seqs = new Map([[1, 10], [2, 0]]);
  const s = new ChatSocket({
    url: 'ws://chat/ws',
    WebSocket: FakeWS,
    getToken: () => token,
    refresh: async () => {
      refreshes++;
      if (opts.refreshFails) throw new Error('no');
      token = `t${refreshes + 1}`;
    },
    afterSeq: (id) => seqs.get(id) ?? null,
    onEvent: (e) => events.push(e),
    onStatus: (st) => statuses.push(st.status),
    now: clock.now,
    setTimer: clock.setTimer,
    clearTimer: clock.clearTimer,
    random: () => 0.5,
  });
  return { s, clock, events, statuses, seqs, refreshes: () => refreshes, setToken: (t) => (token = t) };
}

async function connect(s, user = { id: 7 }) {
  await flush();
  const ws = FakeWS.last;
  ws.open();
  ws.receive({ type: 'ready', user });
  return ws;
}

test('auth is the first frame; subscriptions follow ready with after_seq', async () => {
  const { s, events } = setup();
  s.subscribe(1);
  s.subscribe(2);
  s.start();
  await flush();
  const ws = FakeWS.last;
  assert.equal(ws.url, 'ws://chat/ws');
  ws.open();
  assert.deepEqual(ws.sent, [{ type: 'auth', token: 't1' }], 'nothing before auth');
  assert.equal(s.send({ type: 'typing', room_id: 1 }), false, 'not ready yet');
  ws.receive({ type: 'ready', user: { id: 7 } });
  assert.deepEqual(ws.sent.slice(1), [
    { type: 'subscribe', room_id: 1, after_seq: 10 },
    { type: 'subscribe', room_id: 2, after_seq: 0 },
  ]);
  assert.equal(s.status, Status.OPEN);
  assert.equal(events[0].type, 'ready');
  s.subscribe(3);
  assert.deepEqual(ws.sent.at(-1), { type: 'subscribe', room_id: 3 }, 'no after_seq when unknown');
  s.unsubscribe(3);
  assert.deepEqual(ws.sent.at(-1), { type: 'unsubscribe', room_id: 3 });
});

test('a dropped connection reconnects with growing, jittered delays and resumes after the newest seq', async () => {
  const { s, clock, seqs } = setup();
  s.subscribe(1);
  s.start();
  const ws1 = await connect(s);
  ws1.serverClose(1006);
  assert.equal(s.status, Status.WAITING);
  assert.equal(clock.nextDelay(), 375, 'first retry: 250–500 ms');
  clock.advance(375);
  await flush();
  FakeWS.last.serverClose(1006); // refused again
  assert.equal(clock.nextDelay(), 750);
  clock.advance(750);
  seqs.set(1, 15); // messages arrived meanwhile over another path
  const ws3 = await connect(s);
  assert.deepEqual(ws3.frames('subscribe'), [{ type: 'subscribe', room_id: 1, after_seq: 15 }]);
  ws3.serverClose(1006);
  assert.equal(clock.nextDelay(), 375, 'a successful connection resets the backoff');
});

test('4401 refreshes the token, then reconnects at once with the new one', async () => {
  const h = setup();
  h.s.start();
  const ws = await connect(h.s);
  ws.serverClose(4401);
  await flush();
  assert.equal(h.refreshes(), 1);
  assert.equal(h.clock.nextDelay(), 0);
  h.clock.advance(0);
  await flush();
  FakeWS.last.open();
  assert.deepEqual(FakeWS.last.sent[0], { type: 'auth', token: 't2' });
});

test('4403 (account disabled) asks for a renewal too, which ends a session that is over', async () => {
  const h = setup();
  h.s.start();
  const ws = await connect(h.s);
  ws.serverClose(4403);
  await flush();
  assert.equal(h.refreshes(), 1, 'the renewal is what learns the account is disabled and signs out');
});

test('1012 (server restart) reconnects quickly', async () => {
  const { s, clock } = setup();
  s.start();
  const ws = await connect(s);
  ws.serverClose(1012);
  assert.ok(clock.nextDelay() <= 1100);
  assert.ok(clock.nextDelay() >= 100);
});

test('renewed tokens are sent on the open connection', async () => {
  const { s, events } = setup();
  s.start();
  const ws = await connect(s);
  const before = ws.sent.length;
  s.renewAuth('fresh');
  assert.deepEqual(ws.sent.at(-1), { type: 'auth', token: 'fresh' });
  ws.receive({ type: 'ready', user: { id: 7 } }); // the server confirms the renewal
  assert.equal(ws.sent.length, before + 1, 'no resubscription on renewal');
  assert.equal(events.filter((e) => e.type === 'ready').length, 1, 'the renewal is not a new session');
});

test('a silent connection is dropped after a ping goes unanswered', async () => {
  const { s, clock, events } = setup();
  s.start();
  const ws = await connect(s);
  clock.advance(25_000);
  assert.deepEqual(ws.sent.at(-1), { type: 'ping' });
  ws.receive({ type: 'pong' });
  clock.advance(25_000);
  assert.equal(ws.frames('ping').length, 2);
  clock.advance(10_000); // no pong
  assert.equal(s.status, Status.WAITING);
  assert.ok(events.some((e) => e.type === 'closed' && e.code === 4000));
  assert.ok(!events.some((e) => e.type === 'pong'), 'pongs are not passed on');
});

test('no ready within the auth timeout counts as a failure', async () => {
  const { s, clock } = setup();
  s.start();
  await flush();
  FakeWS.last.open();
  clock.advance(10_000);
  assert.equal(s.status, Status.WAITING);
});

test('offline waits for the network; wake reconnects at once', async () => {
  const { s, clock } = setup();
  s.start();
  const ws = await connect(s);
  s.setOffline(true);
  ws.serverClose(1006);
  assert.equal(s.status, Status.OFFLINE);
  assert.equal(clock.nextDelay(), null, 'no retries while offline');
  s.setOffline(false);
  await flush();
  assert.equal(FakeWS.all.length, 2);
  FakeWS.last.serverClose(1006);
  assert.equal(s.status, Status.WAITING);
  s.wake();
  await flush();
  assert.equal(FakeWS.all.length, 3);
});

test('stop closes for good', async () => {
  const { s, clock } = setup();
  s.start();
  const ws = await connect(s);
  s.stop();
  assert.equal(ws.readyState, 3);
  assert.equal(s.status, Status.STOPPED);
  clock.advance(60_000);
  assert.equal(FakeWS.all.length, 1);
});

test('bad frames are ignored', async () => {
  const { s, events } = setup();
  s.start();
  const ws = await connect(s);
  ws.onmessage({ data: 'not json' });
  ws.onmessage({ data: '[1,2]' });
  ws.receive({ type: 'message', message: { id: 1 } });
  assert.deepEqual(events.map((e) => e.type), ['ready', 'message']);
});

test('1013 overloaded (shed under a storm) waits for the hint plus jitter, then resumes', async () => {
  const { s, clock, events, seqs } = setup();
  s.subscribe(1);
  s.start();
  await flush();
  // Accepted, then shed before ready.
  FakeWS.last.open();
  FakeWS.last.serverClose(1013, JSON.stringify({ code: 'overloaded', retry_after_ms: 4000 }));
  assert.equal(s.status, Status.WAITING);
  assert.equal(clock.nextDelay(), 5000, 'hint 4000 + 0.5 × half of it');
  assert.equal(events.at(-1).retryAfter, 4000);
  clock.advance(4999);
  await flush();
  assert.equal(FakeWS.all.length, 1, 'not before the hint and its jitter');
  clock.advance(1);
  seqs.set(1, 12);
  const ws = await connect(s);
  assert.deepEqual(ws.frames('subscribe'), [{ type: 'subscribe', room_id: 1, after_seq: 12 }], 'resumed after the newest seq');
  assert.equal(s.status, Status.OPEN);
});

test('1013 overloaded again and again: the wait never drops below the growing backoff', async () => {
  const { s, clock } = setup();
  s.start();
  const delays = [];
  for (let i = 0; i < 6; i++) {
    await flush();
    FakeWS.last.open();
    FakeWS.last.serverClose(1013, '{"code":"overloaded","retry_after_ms":100}');
    delays.push(clock.nextDelay());
    clock.advance(clock.nextDelay());
  }
  assert.deepEqual(delays, [375, 750, 1500, 3000, 6000, 12000]);
});

test('1013 with another reason (too slow) or one that does not parse keeps the quick restart delay', async () => {
  for (const reason of ['too slow', '{"code":"overloaded"', '']) {
    const { s, clock, events } = setup();
    s.start();
    const ws = await connect(s);
    ws.serverClose(1013, reason);
    assert.equal(clock.nextDelay(), 600, `reason ${JSON.stringify(reason)}: restartDelay at random 0.5`);
    assert.equal(events.at(-1).retryAfter, null);
    s.stop();
  }
});
