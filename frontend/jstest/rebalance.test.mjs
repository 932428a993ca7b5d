// A replica holding more than its share of sockets after a scale-out asks
// some to move: close 1012 {"code":"rebalance","retry_after_ms":N}
// (docs/PROTOCOL.md). The client comes back after N (already jittered by
// the server), resumes every room after its newest seq, and shows no
// outage meanwhile.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChatSocket, Status } from '../web/assets/socket.js';
import { overloadedRetryAfter, rebalanceRetryAfter, MAX_RETRY_AFTER_MS } from '../web/assets/lib/backoff.js';
import { connectionBanner, connectionLabel } from '../web/assets/lib/connbanner.js';
import { FakeClock, FakeWS, flush } from './helpers.mjs';

const rebalance = (ms) => JSON.stringify({ code: 'rebalance', retry_after_ms: ms });

function setup() {
  FakeWS.reset();
  const clock = new FakeClock();
  const events = [];
  const statuses = [];
  const seqs = new Map([[1, 10]]);
  const s = new ChatSocket({
    url: 'ws://chat/ws',
    WebSocket: FakeWS,
    getToken: () => 't1',
    refresh: async () => {},
    afterSeq: (id) => seqs.get(id) ?? null,
    onEvent: (e) => events.push(e),
    onStatus: (st) => statuses.push(st),
    now: clock.now,
    setTimer: clock.setTimer,
    clearTimer: clock.clearTimer,
    random: () => 0.5,
  });
  return { s, clock, events, statuses, seqs };
}

async function connect() {
  await flush();
  const ws = FakeWS.last;
  ws.open();
  ws.receive({ type: 'ready', user: { id: 7 } });
  return ws;
}

test('the rebalance close reason gives its hint; other reasons give none', () => {
  assert.equal(rebalanceRetryAfter(rebalance(2500)), 2500);
  assert.equal(rebalanceRetryAfter(rebalance(0)), 0);
  assert.equal(rebalanceRetryAfter(rebalance(1e12)), MAX_RETRY_AFTER_MS, 'capped');
  for (const r of ['server restart', '', null, '{', '{"code":"rebalance"}', rebalance(-1), '{"code":"overloaded","retry_after_ms":100}']) {
    assert.equal(rebalanceRetryAfter(r), null, `reason ${JSON.stringify(r)}`);
  }
  assert.equal(overloadedRetryAfter(rebalance(100)), null, 'a rebalance is not an overload');
});

test('1012 rebalance: back after exactly the hint, resumed after the newest seq, no backoff step, no outage', async () => {
  const { s, clock, events, statuses, seqs } = setup();
  s.subscribe(1);
  s.start();
  const ws1 = await connect();
  ws1.serverClose(1012, rebalance(3200));
  assert.equal(s.status, Status.WAITING);
  assert.equal(clock.nextDelay(), 3200, 'the server already spread the hints: no extra jitter, no backoff');
  assert.deepEqual({ ...events.at(-1) }, { type: 'closed', code: 1012, wasReady: true, retryAfter: 3200, moving: true });
  const waiting = statuses.at(-1);
  assert.equal(waiting.moving, true);
  assert.deepEqual(connectionLabel(waiting, true), { state: 'moving', label: 'Switching server…' });
  assert.equal(connectionBanner({ down: false }, connectionLabel(waiting, true).state), null, 'no banner for a move');

  clock.advance(3199);
  await flush();
  assert.equal(FakeWS.all.length, 1, 'not before the hint');
  clock.advance(1);
  seqs.set(1, 14); // what arrived before the close
  await flush();
  assert.equal(connectionLabel(statuses.at(-1), true).state, 'moving', 'still calm while connecting');
  const ws2 = await connect();
  assert.deepEqual(ws2.frames('subscribe'), [{ type: 'subscribe', room_id: 1, after_seq: 14 }], 'resumed: the server replays what the move missed');
  assert.equal(s.status, Status.OPEN);
  assert.equal(statuses.at(-1).moving, false);
  ws2.serverClose(1006);
  assert.equal(clock.nextDelay(), 375, 'the move was no failure: the backoff starts at its first step');
  assert.equal(connectionLabel(statuses.at(-1), true).state, 'reconnecting', 'a real drop afterwards shows as one');
});

test('a move whose reconnect fails becomes an ordinary reconnect, with its banner', async () => {
  const { s, clock, statuses } = setup();
  s.start();
  const ws = await connect();
  ws.serverClose(1012, rebalance(100));
  clock.advance(100);
  await flush();
  FakeWS.last.serverClose(1006); // the new replica could not be reached
  const st = statuses.at(-1);
  assert.equal(st.moving, false);
  assert.equal(connectionLabel(st, true).state, 'reconnecting');
  assert.equal(connectionBanner({ down: false }, 'reconnecting').state, 'reconnecting');
  assert.equal(clock.nextDelay(), 375);
});

test('a plain 1012 restart, or a rebalance before ready, is no move', async () => {
  {
    const { s, clock, statuses } = setup();
    s.start();
    const ws = await connect();
    ws.serverClose(1012, 'server restart');
    assert.equal(clock.nextDelay(), 600, 'restartDelay at random 0.5');
    assert.equal(statuses.at(-1).moving, false);
    assert.equal(connectionLabel(statuses.at(-1), true).state, 'reconnecting');
    s.stop();
  }
  {
    const { s, clock, events } = setup();
    s.start();
    await flush();
    FakeWS.last.open();
    FakeWS.last.serverClose(1012, rebalance(100)); // never ready: nothing to move from
    assert.equal(events.at(-1).moving, false);
    assert.equal(clock.nextDelay(), 375, 'ordinary backoff');
    s.stop();
  }
});

test('going offline during a move ends it: the return is an ordinary reconnect', async () => {
  const { s, statuses } = setup();
  s.start();
  const ws = await connect();
  ws.serverClose(1012, rebalance(3000));
  s.setOffline(true);
  assert.equal(statuses.at(-1).status, Status.OFFLINE);
  s.setOffline(false);
  await flush();
  assert.equal(statuses.at(-1).moving, false);
  assert.equal(connectionLabel(statuses.at(-1), true).state, 'reconnecting');
});

test('a service outage still shows while a socket moves', () => {
  const b = connectionBanner({ down: true, status: 503, detail: 'chat-service is down.' }, 'moving');
  assert.equal(b.state, 'service');
});
