// Threads and message links: the pure helpers (lib/threads.js), and
// ThreadClient with a real ChatClient and store against a fake API: replies
// keep the room's seqs gap-free, go to the open thread, count as unread in
// followed threads, and are sent with their thread_root_id.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bumpThread, isReply, mergeReplies, messageParam, messagePath, messageUrl, repliersByRoot, replyLabel, totalUnread } from '../web/assets/lib/threads.js';
import { ChatClient } from '../web/assets/chat.js';
import { ThreadClient } from '../web/assets/threads.js';
import { RoomLog } from '../web/assets/lib/roomlog.js';
import { createStore } from '../web/assets/state.js';
import { flush } from './helpers.mjs';

const ME = { id: 7, username: 'ann' };
const msg = (id, seq, o = {}) => ({ id, seq, room_id: 1, user_id: 8, username: 'bob', body: `m${id}`, created_at: '2026-01-01T00:00:00Z', thread_root_id: null, reply_count: 0, last_reply_at: null, ...o });

test('isReply, replyLabel, totalUnread', () => {
  assert.equal(isReply(msg(1, 1)), false);
  assert.equal(isReply(msg(2, 2, { thread_root_id: 1 })), true);
  assert.equal(isReply(null), false);
  assert.equal(replyLabel(1), '1 reply');
  assert.equal(replyLabel(0), '0 replies');
  assert.equal(replyLabel(12), '12 replies');
  assert.equal(totalUnread([{ unread_replies: 2 }, { unread_replies: 0 }, { unread_replies: 5 }, {}]), 7);
  assert.equal(totalUnread(undefined), 0);
});

test('repliersByRoot: newest first, distinct, at most three, deleted replies left out', () => {
  const log = [
    msg(1, 1),
    msg(2, 2, { thread_root_id: 1, user_id: 10 }),
    msg(3, 3, { thread_root_id: 1, user_id: 11 }),
    msg(4, 4),
    msg(5, 5, { thread_root_id: 1, user_id: 10 }),
    msg(6, 6, { thread_root_id: 4, user_id: 12 }),
    msg(7, 7, { thread_root_id: 1, user_id: 13 }),
    msg(8, 8, { thread_root_id: 1, user_id: 14, deleted: true }),
    msg(9, 9, { thread_root_id: 1, user_id: 15 }),
  ];
  const r = repliersByRoot(log);
  assert.deepEqual(r.get(1), [15, 13, 10]);
  assert.deepEqual(r.get(4), [12]);
  assert.equal(r.get(6), undefined);
});

test('mergeReplies keeps seq order and one copy per id, the later winning', () => {
  const a = mergeReplies([msg(3, 3), msg(5, 5)], [msg(4, 4), msg(3, 3, { body: 'edited' }), null]);
  assert.deepEqual(a.map((m) => m.id), [3, 4, 5]);
  assert.equal(a[0].body, 'edited');
});

test('bumpThread: someone else\'s reply is unread unless the thread is open and read; one\'s own never', () => {
  const list = [{ root: { id: 1 }, unread_replies: 1 }, { root: { id: 4 }, unread_replies: 0 }];
  let r = bumpThread(list, msg(9, 9, { thread_root_id: 1, user_id: 8 }), { meId: 7 });
  assert.equal(r.found, true);
  assert.equal(r.threads[0].unread_replies, 2);
  r = bumpThread(list, msg(9, 9, { thread_root_id: 1, user_id: 7 }), { meId: 7 });
  assert.equal(r.threads[0].unread_replies, 1);
  r = bumpThread(list, msg(9, 9, { thread_root_id: 1, user_id: 8 }), { meId: 7, openRootId: 1 });
  assert.equal(r.threads[0].unread_replies, 1);
  r = bumpThread(list, msg(9, 9, { thread_root_id: 99 }), { meId: 7 });
  assert.equal(r.found, false);
  assert.equal(list[0].unread_replies, 1, 'the input is not changed');
});

test('message links: path, URL and the ?m= parameter', () => {
  assert.equal(messagePath({ room_id: 3, id: 42 }), '/rooms/3?m=42');
  assert.equal(messageUrl('https://chat.example.com/', { room_id: '3', id: '42' }), 'https://chat.example.com/rooms/3?m=42');
  assert.equal(messageParam('42'), 42);
  for (const bad of ['', '0', '-1', '4.2', '1e3', 'x', '12345678901234567890', null, undefined, {}]) assert.equal(messageParam(bad), null, String(bad));
});

test('RoomLog: a root\'s new reply_count is an update', () => {
  const log = new RoomLog(1);
  log.addPage([msg(1, 1)], 'latest', true);
  assert.equal(log.update(msg(1, 1, { reply_count: 1, last_reply_at: '2026-01-01T00:01:00Z' })), true);
  assert.equal(log.get(1).reply_count, 1);
  assert.equal(log.update(msg(1, 1, { reply_count: 1, last_reply_at: '2026-01-01T00:01:00Z' })), false);
});

class FakeApi {
  constructor() {
    this.user = ME;
    this.calls = [];
    this.thread = { root: msg(1, 1, { reply_count: 1 }), messages: [msg(2, 2, { thread_root_id: 1 })], next_cursor: null };
    this.followed = [{ root: msg(1, 1, { reply_count: 1 }), unread_replies: 1 }];
    this.nextId = 100;
  }

  async get(path, q) {
    this.calls.push(['GET', path, q]);
    if (path === '/api/chat/threads') return { threads: this.followed, next_cursor: null };
    if (path === '/api/chat/messages/1/thread') return this.thread;
    throw Object.assign(new Error('not found'), { status: 404 });
  }

  async post(path, body) {
    this.calls.push(['POST', path, body]);
    if (path.endsWith('/thread/read')) return { root_id: 1, following: true, last_read_seq: body.seq, unread_replies: 0 };
    if (path === '/api/chat/rooms/1/messages') {
      const id = this.nextId++;
      return msg(id, id, { user_id: ME.id, username: 'ann', body: body.body, client_msg_id: body.client_msg_id, thread_root_id: body.thread_root_id ?? null });
    }
    return {};
  }
}

function setup() {
  const api = new FakeApi();
  const store = createStore({});
  const chat = new ChatClient({ api, store, setTimer: () => 0, clearTimer: () => {} });
  const threads = new ThreadClient({ api, store, chat });
  chat._setRooms([{ id: 1, name: 'general', kind: 'public', is_member: true, unread: 0, last_read_seq: 0 }]);
  chat.log(1).addPage([msg(1, 1), msg(2, 2, { thread_root_id: 1 })], 'latest', true);
  return { api, store, chat, threads };
}

test('ThreadClient: open fetches the thread; live replies join it, keep the room log gap-free and count as unread', async () => {
  const { store, chat, threads } = setup();
  await threads.loadFollowed();
  assert.equal(store.state.threadUnread, 1);
  await threads.open(1);
  assert.equal(store.state.thread.root.id, 1);
  assert.deepEqual(store.state.thread.replies.map((m) => m.id), [2]);
  // A reply takes the room's next seq: the log's window moves on.
  chat.handle({ type: 'message', message: msg(3, 3, { thread_root_id: 1 }) });
  assert.equal(chat.log(1).afterSeq, 3);
  assert.deepEqual(store.state.thread.replies.map((m) => m.id), [2, 3]);
  assert.equal(store.state.threadUnread, 2);
  // The same frame again (a replay) changes nothing.
  chat.handle({ type: 'message', message: msg(3, 3, { thread_root_id: 1 }) });
  assert.equal(store.state.threadUnread, 2);
  assert.equal(store.state.thread.replies.length, 2);
  // A top-level message is not the thread's.
  chat.handle({ type: 'message', message: msg(4, 4) });
  assert.equal(store.state.thread.replies.length, 2);
  assert.equal(chat.log(1).afterSeq, 4);
  // The root's new count comes as message_updated: log and pane see it.
  chat.handle({ type: 'message_updated', message: msg(1, 1, { reply_count: 2, last_reply_at: '2026-01-01T00:02:00Z' }) });
  assert.equal(chat.log(1).get(1).reply_count, 2);
  assert.equal(store.state.thread.root.reply_count, 2);
  assert.equal(store.state.followedThreads.list[0].root.reply_count, 2);
});

test('ThreadClient: reading the open thread marks it read up to its newest reply', async () => {
  const { api, store, threads } = setup();
  await threads.loadFollowed();
  await threads.open(1);
  threads.reading = true;
  threads.markRead();
  assert.equal(store.state.threadUnread, 0);
  const read = api.calls.find((c) => c[1] === '/api/chat/messages/1/thread/read');
  assert.deepEqual(read[2], { seq: 2 });
  await flush();
  // While it is read, a new reply from someone else is marked read at once.
  threads.incoming(msg(5, 5, { thread_root_id: 1 }));
  assert.equal(store.state.threadUnread, 0);
  assert.deepEqual(api.calls.filter((c) => c[1] === '/api/chat/messages/1/thread/read').at(-1)[2], { seq: 5 });
});

test('a reply goes out with its thread_root_id and comes back into the thread', async () => {
  const { api, store, chat, threads } = setup();
  await threads.open(1);
  const e = threads.send(1, 1, 'in the thread');
  assert.equal(e.thread_root_id, 1);
  await flush();
  const post = api.calls.find((c) => c[0] === 'POST' && c[1] === '/api/chat/rooms/1/messages');
  assert.equal(post[2].thread_root_id, 1);
  assert.equal(post[2].body, 'in the thread');
  assert.equal(chat.outbox.size, 0);
  assert.equal(store.state.thread.replies.at(-1).body, 'in the thread');
  // A top-level send carries none.
  chat.send(1, 'top');
  await flush();
  const top = api.calls.filter((c) => c[0] === 'POST' && c[1] === '/api/chat/rooms/1/messages').at(-1);
  assert.equal('thread_root_id' in top[2], false);
});

// ---- message links far back: the window jumps, then pages forward ------------

const page = (from, to) => Array.from({ length: to - from + 1 }, (_, i) => msg(1000 + from + i, from + i));

test('RoomLog.jumpTo: a page far back detaches the window; forward pages join the live end, live messages wait past it', () => {
  const log = new RoomLog(1);
  log.addPage(page(1951, 2000), 'latest', false);
  log.jumpTo(page(450, 549), { lastSeq: 2000 });
  assert.equal(log.lo, 450);
  assert.equal(log.hi, 549);
  assert.equal(log.detached, true);
  assert.equal(log.hasMoreBefore, true);
  assert.ok(!log.messages().some((m) => m.seq === 1990), 'the old window is not shown');
  // A live message while detached is held, not shown.
  const r = log.live(msg(3001, 2001));
  assert.equal(r.status, 'gap');
  assert.equal(log.messages().length, 100);
  // Forward pages extend the window; the one reaching the end attaches it.
  for (let from = 550; from <= 2000; from += 200) {
    log.addPage(page(from, Math.min(from + 199, 2000)), 'after', from + 199 >= 2000);
  }
  assert.equal(log.detached, false);
  assert.equal(log.hi, 2001, 'the held live message joined');
  assert.equal(log.hasGap, false);
  assert.equal(log.messages().length, 2001 - 450 + 1);
  // And older pages still extend it downwards.
  log.addPage(page(250, 449), 'before');
  assert.equal(log.lo, 250);
});

test('RoomLog.jumpTo latest: back at the live end, held messages kept', () => {
  const log = new RoomLog(1);
  log.addPage(page(1951, 2000), 'latest', false);
  log.jumpTo(page(1, 100), { lastSeq: 2000 });
  assert.equal(log.reachedStart, true);
  log.live(msg(3002, 2002));
  log.jumpTo(page(1952, 2001), { latest: true });
  assert.equal(log.detached, false);
  assert.equal(log.hi, 2002);
  assert.equal(log.afterSeq, 2002);
});

test('ChatClient.reveal: far back fetches the page around the message, then newer pages', async () => {
  const calls = [];
  const api = {
    user: ME,
    async get(path, q) {
      calls.push(q);
      if (q.around_seq) return { messages: page(q.around_seq - 50, q.around_seq + 49) };
      if (q.after_seq != null) return { messages: page(q.after_seq + 1, Math.min(q.after_seq + q.limit, 2000)) };
      if (q.before_seq != null) return { messages: page(Math.max(1, q.before_seq - q.limit), q.before_seq - 1), next_cursor: q.before_seq - q.limit };
      return { messages: page(1951, 2000), next_cursor: 1951 };
    },
  };
  const store = createStore({});
  const chat = new ChatClient({ api, store, setTimer: () => 0, clearTimer: () => {} });
  chat._setRooms([{ id: 1, name: 'general', kind: 'public', is_member: true, last_seq: 2000 }]);
  chat.log(1).addPage(page(1951, 2000), 'latest', false);
  assert.equal(await chat.reveal(1, 500, { around: true }), true);
  assert.deepEqual(calls.at(-1), { around_seq: 500, limit: 100 });
  assert.equal(chat.log(1).detached, true);
  // A live message while detached asks for nothing (no gap fill).
  chat.handle({ type: 'message', message: msg(5000, 2001) });
  const before = calls.length;
  let more = true;
  for (let i = 0; i < 20 && more; i++) more = await chat.loadNewer(1);
  assert.equal(more, false);
  assert.ok(calls.length - before <= 8, `${calls.length - before} forward pages`);
  assert.equal(chat.log(1).hi, 2001);
  // Near the window, older pages are loaded as before.
  assert.equal(await chat.reveal(1, 420), true);
  assert.equal(calls.at(-1).before_seq, 450);
});
