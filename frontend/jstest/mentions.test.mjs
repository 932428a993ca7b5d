import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyMention, dmRequest, groupTitle, isDirect, mentionAt, mentionsMe, rankCandidates, splitMentions } from '../web/assets/lib/mentions.js';

test('the @token at the caret', () => {
  assert.deepEqual(mentionAt('@', 1), { start: 0, query: '' });
  assert.deepEqual(mentionAt('hi @bo', 6), { start: 3, query: 'bo' });
  assert.deepEqual(mentionAt('hi @bo there', 6), { start: 3, query: 'bo' });
  assert.deepEqual(mentionAt('hi @bob there', 5), { start: 3, query: 'b' }, 'caret inside the name');
  assert.equal(mentionAt('hi @bob there', 13), null, 'caret past the token');
  assert.equal(mentionAt('ann@exa', 7), null, 'an e-mail address');
  assert.equal(mentionAt('@@bo', 4), null);
  assert.deepEqual(mentionAt('(@ann.b', 7), { start: 1, query: 'ann.b' });
  assert.equal(mentionAt('no at sign', 5), null);
  assert.deepEqual(mentionAt('line\n@x', 7), { start: 5, query: 'x' });
});

test('picking a name replaces the token and puts the caret after it', () => {
  assert.deepEqual(applyMention('hi @bo', 3, 6, 'bob'), { text: 'hi @bob ', caret: 8 });
  assert.deepEqual(applyMention('hi @bo there', 3, 6, 'bob'), { text: 'hi @bob there', caret: 8 });
  assert.deepEqual(applyMention('@bo, ok', 0, 3, 'bob'), { text: '@bob , ok', caret: 5 });
  assert.deepEqual(applyMention('@b', 0, 2, 'room'), { text: '@room ', caret: 6 });
});

test('members first, then others, better matches first, without me or repeats', () => {
  const members = [{ user_id: 1, username: 'ann' }, { user_id: 2, username: 'bob', display_name: 'Robert Bay' }, { user_id: 3, username: 'carl' }, { user_id: 9, username: 'me' }];
  const others = [{ id: 4, username: 'barbara' }, { id: 2, username: 'bob' }, { id: 5, username: 'abe' }];
  const me = { id: 9, username: 'me' };
  const names = (q, o = {}) => rankCandidates(q, { members, others, me, ...o }).map((c) => c.username);
  assert.deepEqual(names('b'), ['bob', 'barbara', 'abe']);
  assert.deepEqual(names('ro'), ['room', 'bob'], '@room first, then a display-name prefix');
  assert.deepEqual(names('he'), ['here']);
  assert.deepEqual(names('he', { roomWords: false }), []);
  assert.deepEqual(names(''), ['room', 'here', 'ann', 'bob', 'carl', 'abe', 'barbara']);
  assert.deepEqual(names('', { limit: 3 }), ['room', 'here', 'ann']);
  assert.deepEqual(names('a'), ['ann', 'bob', 'carl', 'abe', 'barbara'], 'prefix before substring, members before others');
  const c = rankCandidates('bo', { members, others, me })[0];
  assert.equal(c.member, true);
  assert.equal(c.user_id, 2);
});

test('mentions of the viewer: the server fields first, else the body', () => {
  const me = { id: 7, username: 'ann' };
  assert.ok(mentionsMe({ user_id: 1, body: 'x', mentions: [7], mentions_room: false }, me));
  assert.ok(!mentionsMe({ user_id: 1, body: '@ann', mentions: [], mentions_room: false }, me), 'the server did not resolve it');
  assert.ok(mentionsMe({ user_id: 1, body: '@here', mentions: [], mentions_room: true }, me));
  assert.ok(!mentionsMe({ user_id: 7, body: '@here', mentions: [], mentions_room: true }, me), 'my own @here');
  assert.ok(mentionsMe({ user_id: 1, body: 'hey @ANN.' }, me), 'no server fields: the body');
  assert.ok(!mentionsMe({ user_id: 1, body: 'mail ann@x.org' }, me));
  assert.ok(!mentionsMe({ user_id: 1, body: '@anne' }, me));
  assert.ok(!mentionsMe({ user_id: 1, body: '@ann', deleted: true }, me));
});

test('a body split around its mentions, for highlighting', () => {
  assert.deepEqual(splitMentions('hi @ann. and @room!'), [
    { text: 'hi ' }, { text: '@ann', mention: true, name: 'ann', room: false }, { text: '. and ' }, { text: '@room', mention: true, name: 'room', room: true }, { text: '!' },
  ]);
  assert.deepEqual(splitMentions('x@ann.com'), [{ text: 'x@ann.com' }]);
  assert.deepEqual(splitMentions('@ghost hi @bob', new Set(['bob'])), [{ text: '@ghost hi ' }, { text: '@bob', mention: true, name: 'bob', room: false }]);
  assert.deepEqual(splitMentions(''), []);
  assert.equal(splitMentions('<img src=x> @a').map((p) => p.text).join(''), '<img src=x> @a');
});

test('group names, kinds and the DM request', () => {
  assert.equal(groupTitle(['Bob', 'Cy']), 'Bob and Cy');
  assert.equal(groupTitle(['a', 'b', 'c']), 'a, b and c');
  assert.equal(groupTitle(['a', 'b', 'c', 'd', 'e']), 'a, b, c and 2 more');
  assert.equal(groupTitle([]), 'Group');
  assert.ok(isDirect({ kind: 'group' }) && isDirect({ kind: 'dm' }) && !isDirect({ kind: 'private' }));
  assert.deepEqual(dmRequest([{ id: 3, username: 'bob' }]), { body: { user_id: 3, username: 'bob' } });
  assert.deepEqual(dmRequest([{ id: 3 }, { id: 4 }]), { body: { user_ids: [3, 4] } });
  assert.ok(dmRequest([]).error);
  const nine = Array.from({ length: 9 }, (_, i) => ({ id: i + 1 }));
  assert.match(dmRequest(nine).error, /at most 8/);
  assert.deepEqual(dmRequest(nine.slice(0, 8)).body.user_ids.length, 8);
});

test('mention counts and alerts: once per message, in either frame order, cleared on read', async () => {
  const { ChatClient } = await import('../web/assets/chat.js');
  const { createStore } = await import('../web/assets/state.js');
  const me = { id: 7, username: 'ann' };
  const api = { user: me, async get() { return { rooms: [], next_cursor: null }; }, async post() { return {}; } };
  const store = createStore({});
  const chat = new ChatClient({ api, store });
  chat._setRooms([{ id: 1, kind: 'public', name: 'general', is_member: true, unread: 0, mention_count: 0, last_read_seq: 0 }]);
  chat.log(1).placeAt(0);
  const alerts = [];
  chat.onMessage = (m) => { if (chat.mentionTrack.firstAlert(m.id)) alerts.push(['message', m.id]); };
  chat.onMention = (m, room) => alerts.push(['mention', m.id, room?.id ?? null]);
  const msg = (seq, extra = {}) => ({ id: 100 + seq, room_id: 1, seq, user_id: 9, username: 'bob', body: 'x', created_at: new Date().toISOString(), reactions: [], mentions: [], mentions_room: false, ...extra });
  const room = () => chat.room(1);

  chat.handle({ type: 'message', message: msg(1, { mentions: [7] }) });
  chat.handle({ type: 'mention', message: msg(1, { mentions: [7] }) });
  assert.equal(room().unread, 1);
  assert.equal(room().mention_count, 1, 'message then mention: counted once');

  chat.handle({ type: 'mention', message: msg(2, { mentions: [7] }) });
  chat.handle({ type: 'message', message: msg(2, { mentions: [7] }) });
  assert.equal(room().unread, 2);
  assert.equal(room().mention_count, 2, 'mention then message: counted once');

  chat.handle({ type: 'message', message: msg(3, { mentions_room: true }) });
  chat.handle({ type: 'message', message: msg(4) });
  assert.equal(room().mention_count, 3, '@room counts, a plain message does not');
  assert.equal(room().unread, 4);
  assert.deepEqual(alerts, [['message', 101], ['mention', 102, 1], ['message', 103], ['message', 104]], 'one alert per message');
  assert.equal(store.state.lastMention.id, 103);

  chat.markRead(1);
  assert.equal(room().mention_count, 0);
  assert.equal(room().unread, 0);

  // A mention in a room this page does not hold still alerts.
  chat.handle({ type: 'mention', message: { ...msg(9, { mentions: [7] }), id: 900, room_id: 5 } });
  assert.deepEqual(alerts.at(-1), ['mention', 900, null]);
});
