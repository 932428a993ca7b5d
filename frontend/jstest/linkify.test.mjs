import { test } from 'node:test';
import assert from 'node:assert/strict';
import { linkify, safeHref } from '../web/assets/lib/linkify.js';

const join = (parts) => parts.map((p) => p.text).join('');

test('plain text stays one text part', () => {
  assert.deepEqual(linkify('hello world'), [{ type: 'text', text: 'hello world' }]);
  assert.deepEqual(linkify(''), []);
});

test('the XSS payload is text, not a link or markup', () => {
  const s = '<img src=x onerror=alert(1)>';
  assert.deepEqual(linkify(s), [{ type: 'text', text: s }]);
});

test('http and https links are split out', () => {
  const parts = linkify('see https://example.com/a?b=1#c and http://x.org.');
  assert.deepEqual(parts, [
    { type: 'text', text: 'see ' },
    { type: 'link', text: 'https://example.com/a?b=1#c', href: 'https://example.com/a?b=1#c' },
    { type: 'text', text: ' and ' },
    { type: 'link', text: 'http://x.org', href: 'http://x.org/' },
    { type: 'text', text: '.' },
  ]);
});

test('only http(s) is linked', () => {
  for (const s of ['javascript:alert(1)', 'JaVaScRiPt:alert(1)', 'data:text/html,<b>x</b>', 'ftp://x.org/file', 'vbscript:x', 'mailto:a@b.c']) {
    assert.ok(linkify(s).every((p) => p.type === 'text'), s);
  }
  assert.equal(safeHref('javascript:alert(1)'), null);
  assert.equal(safeHref('https://ok.example'), 'https://ok.example/');
});

test('a scheme hidden in a word is not a link', () => {
  assert.ok(linkify('xhttps://evil.example').every((p) => p.type === 'text'));
});

test('trailing punctuation and unbalanced brackets are left out', () => {
  const cases = {
    'go to https://a.io/x, then': 'https://a.io/x',
    '(https://a.io/x)': 'https://a.io/x',
    'wiki https://en.wikipedia.org/wiki/Foo_(bar) ok': 'https://en.wikipedia.org/wiki/Foo_(bar)',
    'really? https://a.io/?q=1!': 'https://a.io/?q=1',
    '"https://a.io/q"': 'https://a.io/q',
  };
  for (const [input, url] of Object.entries(cases)) {
    const links = linkify(input).filter((p) => p.type === 'link');
    assert.equal(links.length, 1, input);
    assert.equal(links[0].text, url, input);
    assert.equal(join(linkify(input)), input, 'parts concatenate to the input');
  }
});

test('quotes and angle brackets end a URL, so attributes cannot be smuggled', () => {
  const parts = linkify('https://a.io/"onmouseover="alert(1)');
  const link = parts.find((p) => p.type === 'link');
  assert.equal(link.text, 'https://a.io/');
  assert.equal(join(parts), 'https://a.io/"onmouseover="alert(1)');
  const p2 = linkify('<https://a.io/x>');
  assert.equal(p2.find((p) => p.type === 'link').text, 'https://a.io/x');
});

test('several links and newlines survive', () => {
  const s = 'a https://one.io\nb https://two.io/p\n';
  const parts = linkify(s);
  assert.equal(parts.filter((p) => p.type === 'link').length, 2);
  assert.equal(join(parts), s);
});

test('a bare scheme is not a link', () => {
  assert.ok(linkify('http:// nothing').every((p) => p.type === 'text'));
});

test('long runs of punctuation or brackets after a URL are trimmed in one pass', () => {
  for (const tail of [')'.repeat(50_000), '!'.repeat(50_000) + 'a', '.,;:'.repeat(20_000)]) {
    const parts = linkify('https://a.io/' + tail);
    assert.equal(join(parts), 'https://a.io/' + tail);
    assert.ok(parts.some((p) => p.type === 'link'));
  }
});
