import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRoute, pathFor, safeNext } from '../web/assets/lib/routes.js';
import { displayName, documentTitle, initials, isBlank, mentionsUser, preview, typingText, colorSlot, plural } from '../web/assets/lib/format.js';

test('routes parse', () => {
  assert.deepEqual(parseRoute('/rooms/12', '?seq=5'), { name: 'room', params: { id: 12 }, query: { seq: '5' } });
  assert.equal(parseRoute('/').name, 'home');
  assert.equal(parseRoute('/users/3').params.id, 3);
  assert.equal(parseRoute('/rooms/abc').name, 'notfound');
  assert.equal(parseRoute('/admin/').name, 'admin');
  assert.equal(pathFor('room', { id: 4 }, { seq: 9 }), '/rooms/4?seq=9');
  assert.equal(pathFor('settings'), '/settings');
});

test('post-login redirects stay inside the app', () => {
  assert.equal(safeNext('/rooms/3'), '/rooms/3');
  assert.equal(safeNext('/search?q=x'), '/search?q=x');
  for (const bad of ['//evil.example', 'https://evil.example', '/\\evil.example', 'javascript:alert(1)', '/login', '/nope', null]) {
    assert.equal(safeNext(bad), '/', String(bad));
  }
});

test('text helpers', () => {
  assert.equal(initials('ann lee'), 'AL');
  assert.equal(initials('bob'), 'BO');
  assert.equal(initials(''), '?');
  assert.equal(initials('émile_zola'), 'ÉZ');
  assert.equal(displayName({ display_name: '  ', username: 'u' }), 'u');
  assert.equal(displayName(null, 'fallback'), 'fallback');
  assert.equal(displayName({ display_name: 'Ann' }), 'Ann');
  assert.ok(isBlank(' \n\t '));
  assert.ok(!isBlank(' x '));
  assert.equal(preview('a\n\nb   c'), 'a b c');
  assert.equal(preview('x'.repeat(100), 10), 'xxxxxxxxx…');
  assert.equal(typingText([]), '');
  assert.equal(typingText(['ann']), 'ann is typing…');
  assert.equal(typingText(['ann', 'bob']), 'ann and bob are typing…');
  assert.equal(typingText(['a', 'b', 'c', 'd', 'e']), 'a, b and 3 others are typing…');
  assert.equal(colorSlot(5), colorSlot(5));
  assert.ok(colorSlot('x') >= 0 && colorSlot('x') < 8);
  assert.equal(plural(1, 'member'), '1 member');
  assert.equal(plural(3, 'member'), '3 members');
});

test('documentTitle names the view, then Parley, with the unread count first', () => {
  assert.equal(documentTitle('General'), 'General · Parley');
  assert.equal(documentTitle('General', 3), '(3) General · Parley');
  assert.equal(documentTitle('', 0), 'Parley');
  assert.equal(documentTitle('Settings', 250), '(99+) Settings · Parley');
});

test('mentionsUser: @name as a word, case-insensitive; not inside addresses or longer names', () => {
  assert.ok(mentionsUser('hi @ann', 'ann'));
  assert.ok(mentionsUser('@ANN: look', 'ann'));
  assert.ok(!mentionsUser('ann@example.com', 'ann'));
  assert.ok(!mentionsUser('hi @anna', 'ann'));
  assert.ok(mentionsUser('hi @a.b', 'a.b'));
  assert.ok(!mentionsUser('hi @aXb', 'a.b'), 'the dot is literal');
  assert.ok(!mentionsUser('hi', ''));
});
