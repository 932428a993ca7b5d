import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { MAX_DEPTH, compact, linkHref, parse, plainText, render, toPlain } from '../web/assets/lib/markdown.js';

// ---- helpers -----------------------------------------------------------------

const inline = (s) => {
  const doc = parse(s);
  assert.equal(doc.children.length, 1, `one paragraph for ${JSON.stringify(s)}`);
  assert.equal(doc.children[0].type, 'paragraph');
  return doc.children[0].children;
};
const t = (text) => ({ type: 'text', text });

// A DOM just big enough for render: elements record their tag, attributes
// and children; setting innerHTML, outerHTML or calling
// insertAdjacentHTML throws, so a renderer that used them fails here.
class FakeNode {
  constructor(tag) {
    this.tagName = tag;
    this.attrs = {};
    this.childNodes = [];
  }

  setAttribute(k, v) {
    this.attrs[k] = String(v);
  }

  appendChild(c) {
    this.childNodes.push(c);
    return c;
  }

  insertAdjacentHTML() {
    throw new Error('insertAdjacentHTML used');
  }

  get textContent() {
    return this.childNodes.map((c) => c.textContent).join('');
  }
}
for (const k of ['innerHTML', 'outerHTML']) {
  Object.defineProperty(FakeNode.prototype, k, { set() { throw new Error(`${k} used`); }, get() { throw new Error(`${k} read`); } });
}
const fakeDoc = {
  createElement: (tag) => new FakeNode(tag.toUpperCase()),
  createTextNode: (text) => ({ nodeType: 3, textContent: String(text) }),
  createDocumentFragment: () => new FakeNode('#fragment'),
};
const dom = (s, o = {}) => render(parse(s), { doc: fakeDoc, ...o });
const elements = (node, acc = []) => {
  for (const c of node.childNodes ?? []) {
    if (c.tagName) {
      acc.push(c);
      elements(c, acc);
    }
  }
  return acc;
};
const tags = (s) => elements(dom(s)).map((e) => e.tagName).join(' ');

const depth = (n) => 1 + Math.max(0, ...(n.children ?? []).map(depth));
const ALLOWED = new Set(['doc', 'paragraph', 'code_block', 'quote', 'list', 'item', 'text', 'code', 'strong', 'em', 'del', 'link']);
const SAFE_HREF = /^(https?:\/\/[^\s]+|mailto:[^\s]+)$/;

// Every node is of a known kind; every link goes to http(s) or mailto.
function assertSafe(ast, label) {
  const walk = (n) => {
    assert.ok(ALLOWED.has(n.type), `${label}: node type ${n.type}`);
    if (n.type === 'link') {
      assert.match(n.href, SAFE_HREF, `${label}: href ${n.href}`);
      const u = new URL(n.href);
      assert.ok(['http:', 'https:', 'mailto:'].includes(u.protocol), `${label}: protocol ${u.protocol}`);
    }
    for (const c of n.children ?? []) walk(c);
  };
  walk(ast);
  // The rendered DOM: only the renderer's own tags and attributes.
  const tagsOK = new Set(['P', 'STRONG', 'EM', 'DEL', 'CODE', 'PRE', 'A', 'SPAN', 'DIV', 'BLOCKQUOTE', 'UL', 'OL', 'LI']);
  const attrsOK = new Set(['class', 'href', 'target', 'rel', 'start', 'data-lang']);
  for (const e of elements(render(ast, { doc: fakeDoc }))) {
    assert.ok(tagsOK.has(e.tagName), `${label}: element ${e.tagName}`);
    for (const [k, v] of Object.entries(e.attrs)) {
      assert.ok(attrsOK.has(k), `${label}: attribute ${k}`);
      if (k === 'href') assert.match(v, SAFE_HREF, `${label}: rendered href ${v}`);
    }
  }
}

// ---- inline grammar ---------------------------------------------------------

test('plain text is one text node, line breaks and blank lines kept', () => {
  assert.deepEqual(inline('hello world'), [t('hello world')]);
  assert.deepEqual(inline('one\n\n\ntwo'), [t('one\n\n\ntwo')]);
  assert.deepEqual(parse('').children, []);
  assert.deepEqual(parse('\n\n').children, []);
});

test('bold, italic, strikethrough and inline code', () => {
  assert.deepEqual(inline('**b** *i* _i_ __b__ ~~s~~ `c`'), [
    { type: 'strong', children: [t('b')] }, t(' '),
    { type: 'em', children: [t('i')] }, t(' '),
    { type: 'em', children: [t('i')] }, t(' '),
    { type: 'strong', children: [t('b')] }, t(' '),
    { type: 'del', children: [t('s')] }, t(' '),
    { type: 'code', text: 'c' },
  ]);
});

test('emphasis nests when it pairs up properly', () => {
  assert.deepEqual(inline('**bold _and italic_**'), [{ type: 'strong', children: [t('bold '), { type: 'em', children: [t('and italic')] }] }]);
  assert.deepEqual(inline('~~**x**~~'), [{ type: 'del', children: [{ type: 'strong', children: [t('x')] }] }]);
});

test('unmatched and crossing markers stay literal text', () => {
  for (const s of ['**open', 'close**', '*a', 'a * b * c', '2 * 3 = 6', '~single~', '***three***', '** spaced **', '~~~', 'a__b__c']) {
    assert.equal(toPlain(parse(s)), s, s);
  }
  // Crossing: the inner opener is dropped and stays text.
  const x = inline('**a *b** c*');
  assert.equal(toPlain(x), 'a *b c*');
  assert.equal(x[0].type, 'strong');
  assert.deepEqual(inline('*a **b* c**').map((n) => n.type), ['em', 'text']);
});

test('underscores inside words are not emphasis', () => {
  assert.deepEqual(inline('snake_case_name and file_name.go'), [t('snake_case_name and file_name.go')]);
  assert.deepEqual(inline('x*y*z'), [t('x'), { type: 'em', children: [t('y')] }, t('z')], 'stars may be intraword');
});

test('a mention is one word: its underscores are not emphasis', () => {
  assert.deepEqual(inline('hi @_bob_ and @ann_b_'), [t('hi @_bob_ and @ann_b_')]);
  assert.equal(toPlain(inline('**@bob** look')), '@bob look');
});

test('backslash escapes markers', () => {
  assert.deepEqual(inline('\\*not\\* \\_x\\_ \\`y\\` \\[z](https://a.io)'), [t('*not* _x_ `y` [z]('), { type: 'link', href: 'https://a.io/', children: [t('https://a.io')] }, t(')')]);
  assert.equal(plainText('a\\b \\\\'), 'a\\b \\');
});

test('code spans: longer fences hold backticks, content is not parsed', () => {
  assert.deepEqual(inline('a ``b ` c`` d'), [t('a '), { type: 'code', text: 'b ` c' }, t(' d')]);
  assert.deepEqual(inline('`**not bold** https://a.io`'), [{ type: 'code', text: '**not bold** https://a.io' }]);
  assert.deepEqual(inline('`unclosed **b**'), [t('`unclosed '), { type: 'strong', children: [t('b')] }]);
  assert.deepEqual(inline('`` ` ``'), [{ type: 'code', text: '`' }]);
});

test('bare URLs become links (the linkify rules)', () => {
  assert.deepEqual(inline('see https://a.io/x_(y). ok'), [t('see '), { type: 'link', href: 'https://a.io/x_(y)', children: [t('https://a.io/x_(y)')] }, t('. ok')]);
  assert.deepEqual(inline('**https://a.io**'), [{ type: 'strong', children: [{ type: 'link', href: 'https://a.io/', children: [t('https://a.io')] }] }]);
  assert.deepEqual(inline('*https://a.io/b_c*'), [{ type: 'em', children: [{ type: 'link', href: 'https://a.io/b_c', children: [t('https://a.io/b_c')] }] }]);
  assert.deepEqual(inline('xhttps://a.io'), [t('xhttps://a.io')], 'a scheme inside a word');
});

test('[text](url) links for http, https and mailto', () => {
  assert.deepEqual(inline('[the **docs**](https://a.io/d?x=1)'), [{ type: 'link', href: 'https://a.io/d?x=1', children: [t('the '), { type: 'strong', children: [t('docs')] }] }]);
  assert.deepEqual(inline('[wiki](https://en.wikipedia.org/wiki/Foo_(bar))'), [{ type: 'link', href: 'https://en.wikipedia.org/wiki/Foo_(bar)', children: [t('wiki')] }]);
  assert.deepEqual(inline('[mail me](mailto:ann@example.com)'), [{ type: 'link', href: 'mailto:ann@example.com', children: [t('mail me')] }]);
  assert.deepEqual(inline('[](https://a.io)'), [{ type: 'link', href: 'https://a.io/', children: [t('https://a.io')] }], 'empty text shows the URL');
  assert.deepEqual(inline('[a [b] c](https://a.io)'), [{ type: 'link', href: 'https://a.io/', children: [t('a [b] c')] }], 'balanced brackets in the text');
  assert.deepEqual(inline('[a [b](https://b.io) c](https://a.io)').map((n) => n.type), ['text', 'link', 'text', 'link', 'text'], 'no link in a link');
  assert.deepEqual(inline('[x] (https://a.io)').map((n) => n.type), ['text', 'link', 'text'], 'a space breaks the link syntax');
});

test('a link inside link text is flattened to its text', () => {
  const x = inline('[see https://b.io now](https://a.io)');
  assert.deepEqual(x, [{ type: 'link', href: 'https://a.io/', children: [t('see https://b.io now')] }]);
});

test('linkHref allows only http(s) with a host and mailto', () => {
  assert.equal(linkHref('https://a.io'), 'https://a.io/');
  assert.equal(linkHref('HTTP://A.IO/x'), 'http://a.io/x');
  assert.equal(linkHref('mailto:a@b.c'), 'mailto:a@b.c');
  for (const bad of ['javascript:alert(1)', 'data:text/html,x', 'vbscript:x', '/relative', '//a.io', 'ftp://a.io', 'https://', 'mailto:', 'file:///etc/passwd', '', 'x'.repeat(3000)]) {
    assert.equal(linkHref(bad), null, bad);
  }
});

// ---- blocks -----------------------------------------------------------------

test('fenced code blocks: language, content untouched, unclosed runs to the end', () => {
  assert.deepEqual(parse('```js\nconst a = **1**;\n  <b>x</b>\n```\nafter').children, [
    { type: 'code_block', lang: 'js', text: 'const a = **1**;\n  <b>x</b>' },
    { type: 'paragraph', children: [t('after')] },
  ]);
  assert.deepEqual(parse('before\n```\nnever closed\n\n> not a quote').children, [
    { type: 'paragraph', children: [t('before')] },
    { type: 'code_block', lang: '', text: 'never closed\n\n> not a quote' },
  ]);
  assert.deepEqual(parse('```one line```').children, [{ type: 'code_block', lang: '', text: 'one line' }]);
  assert.deepEqual(parse('```SELECT *\nFROM t```').children, [{ type: 'code_block', lang: '', text: 'SELECT *\nFROM t' }], 'chat style: text on the fence lines');
  assert.deepEqual(parse('say ```x``` inline').children[0].children, [t('say '), { type: 'code', text: 'x' }, t(' inline')]);
});

test('quotes, nested and holding other blocks', () => {
  assert.deepEqual(parse('> a **b**\n> c\nafter').children, [
    { type: 'quote', children: [{ type: 'paragraph', children: [t('a '), { type: 'strong', children: [t('b')] }, t('\nc')] }] },
    { type: 'paragraph', children: [t('after')] },
  ]);
  const nested = parse('> outer\n>> inner').children[0];
  assert.equal(nested.children[1].type, 'quote');
  assert.equal(parse('>quote without space').children[0].type, 'quote');
  assert.equal(parse('a > b').children[0].type, 'paragraph');
});

test('bulleted and numbered lists, nested by indentation', () => {
  const doc = parse('Todo:\n- one\n* two\n  - two.a\n  - two.b\n+ three\n\n3. c\n4) d');
  assert.deepEqual(doc.children.map((b) => b.type), ['paragraph', 'list', 'list']);
  const [, ul, ol] = doc.children;
  assert.equal(ul.ordered, false);
  assert.equal(ul.children.length, 3);
  assert.equal(ul.children[1].children[1].type, 'list', 'two holds a nested list');
  assert.equal(blocksText(ul.children[1].children[1]), 'two.a\ntwo.b');
  assert.equal(ol.ordered, true);
  assert.equal(ol.start, 3);
  assert.equal(ol.children.length, 2);
  for (const s of ['-5 degrees', '*emphasis* first', '**bold** first', '1.5 litres', '- ', '2019']) {
    assert.equal(parse(s).children[0]?.type ?? 'paragraph', 'paragraph', s);
  }
});

function blocksText(list) {
  return toPlain({ type: 'doc', children: [list] });
}

test('nesting deeper than MAX_DEPTH stays text', () => {
  const deep = '>'.repeat(MAX_DEPTH + 5) + ' x';
  const ast = parse(deep);
  assert.ok(depth(ast) <= 2 * MAX_DEPTH + 4, `depth ${depth(ast)}`);
  assert.ok(toPlain(ast).endsWith('x'));
});

// ---- plain text and one line -----------------------------------------------------

test('plain text drops the markers', () => {
  assert.equal(plainText('**x**'), 'x');
  assert.equal(plainText('_hi_ ~~no~~ `code` [docs](https://a.io)'), 'hi no code docs');
  assert.equal(plainText('```js\nlet a = 1;\n```'), 'let a = 1;');
  assert.equal(plainText('> quoted\n- a\n- b'), 'quoted\na\nb');
  assert.equal(plainText('<img src=x onerror=alert(1)>'), '<img src=x onerror=alert(1)>');
});

test('compact: one line of inline nodes, cut with an ellipsis', () => {
  const c = compact(parse('**Hi** there\n\n```\nlet  a = 1;\nlet b;\n```\n- x\n- y'));
  assert.deepEqual(c, [{ type: 'strong', children: [t('Hi')] }, t(' there '), { type: 'code', text: 'let a = 1; let b;' }, t(' x y')]);
  const cut = compact(parse('**abcdef** ghijkl'), 5);
  assert.equal(toPlain(cut), 'abcd…');
  assert.equal(toPlain(compact(parse('abc\n\n- d'), 3)), 'ab…', 'max counts the ellipsis');
  assert.equal(toPlain(compact(parse('short'), 80)), 'short');
});

// ---- rendering ----------------------------------------------------------------

test('rendering builds elements for each construct', () => {
  assert.equal(tags('**b** *i* ~~s~~ `c` [l](https://a.io)'), 'STRONG EM DEL CODE A');
  assert.equal(tags('```go\nx\n```'), 'DIV SPAN PRE CODE');
  assert.equal(tags('> q'), 'BLOCKQUOTE');
  assert.equal(tags('- a\n- b'), 'UL LI LI');
  assert.equal(tags('2. a\n3. b'), 'OL LI LI');
  assert.equal(tags('para\n\n- a'), 'P UL LI');
  const f = dom('[l](https://a.io) [m](mailto:a@b.c)');
  const [a, m] = elements(f);
  assert.deepEqual(a.attrs, { href: 'https://a.io/', target: '_blank', rel: 'noopener noreferrer nofollow' });
  assert.deepEqual(m.attrs, { href: 'mailto:a@b.c', rel: 'noopener noreferrer nofollow' });
  assert.equal(elements(dom('2. a')).find((e) => e.tagName === 'OL').attrs.start, '2');
  assert.equal(dom('plain **text**').textContent, 'plain text');
});

test('links: false renders link text without an anchor (rows that are links)', () => {
  const f = dom('[l](https://a.io)', { links: false });
  assert.deepEqual(elements(f).map((e) => e.tagName), ['SPAN']);
});

test('the text hook sees text and code separately', () => {
  const seen = [];
  dom('hi @bob `@bob`', { text: (s, kind) => { seen.push([s, kind]); return null; } });
  assert.deepEqual(seen, [['hi @bob ', 'text'], ['@bob', 'code']]);
});

test('the renderer uses no HTML-parsing API', () => {
  const src = readFileSync(new URL('../web/assets/lib/markdown.js', import.meta.url), 'utf8');
  for (const api of ['innerHTML', 'outerHTML', 'insertAdjacentHTML', 'document.write', 'DOMParser', 'createContextualFragment']) {
    assert.ok(!src.includes(api), api);
  }
});

// ---- XSS corpus ---------------------------------------------------------------

const XSS = [
  '[x](javascript:alert(1))',
  '[x](JavaScript:alert(1))',
  '[x](JAVASCRIPT:alert(1))',
  '[x]( javascript:alert(1))',
  '[x](java\tscript:alert(1))',
  '[x](java\nscript:alert(1))',
  '[x](\x01javascript:alert(1))',
  '[x](jav&#x61;script:alert(1))',
  '[x](&#106;avascript:alert(1))',
  '[x](javascript&colon;alert(1))',
  '[x](%6Aavascript:alert(1))',
  '[x](javascript://%0aalert(1))',
  '[x](javascript:alert(1) "title")',
  '[x](<javascript:alert(1)>)',
  '[x](data:text/html,<script>alert(1)</script>)',
  '[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)',
  '[x](vbscript:msgbox(1))',
  '[x](file:///etc/passwd)',
  '[x](/relative/path)',
  '[x](//evil.example/x)',
  '[x](#frag)',
  '[x](https:evil.example)',
  '[x](https://ok.example" onmouseover="alert(1))',
  '[x](https://ok.example/"onmouseover="alert(1))',
  '[[x](javascript:alert(1))](https://ok.example)',
  '[x](https://ok.example)(javascript:alert(1))',
  '[x]((javascript:alert(1)))',
  '[x [y](javascript:alert(1))](javascript:alert(2))',
  '![x](javascript:alert(1))',
  '[<img src=x onerror=alert(1)>](https://ok.example)',
  '<script>alert(1)</script>',
  '<img src=x onerror=alert(1)>',
  '<a href="javascript:alert(1)">x</a>',
  '<svg onload=alert(1)>',
  'javascript:alert(1)',
  'JaVaScRiPt:alert(1) https://ok.example/<script>alert(1)</script>',
  'https://ok.example/"><script>alert(1)</script>',
  '`<script>alert(1)</script>`',
  '```html\n<script>alert(1)</script>\n<img src=x onerror=alert(1)>',
  '> [x](javascript:alert(1))\n- [y](vbscript:x)\n1. [z](data:,x)',
  '**[x](javascript:alert(1))**',
  '[x](mailto:javascript:alert(1))',
  '[x](https://ok.example\u2028javascript:alert(1))',
  '[x](\u202ejavascript:alert(1))',
  '*'.repeat(50) + '[x](javascript:alert(1))' + '*'.repeat(50),
];

test('the XSS corpus parses to text and safe links only', () => {
  for (const s of XSS) {
    const ast = parse(s);
    assertSafe(ast, JSON.stringify(s));
    const links = [];
    const walk = (n) => {
      if (n.type === 'link') links.push(n.href);
      for (const c of n.children ?? []) walk(c);
    };
    walk(ast);
    for (const href of links) assert.ok(!/script|data:|vbscript/i.test(new URL(href).protocol), href);
    // Nothing of the payload is lost or invented beyond the markers.
    assert.ok(toPlain(ast).length <= s.length, s);
  }
});

test('a javascript: link keeps its whole text as text', () => {
  assert.equal(plainText('[x](javascript:alert(1))'), '[x](javascript:alert(1))');
  assert.equal(plainText('<img src=x onerror=alert(1)>'), '<img src=x onerror=alert(1)>');
});

// ---- adversarial inputs ----------------------------------------------------------

const N = 100_000;
const rep = (s) => s.repeat(Math.ceil(N / s.length)).slice(0, N);
const ADVERSARIAL = {
  stars: rep('*'),
  'star words': rep('*a '),
  'nesting openers then closers': rep('*a ').slice(0, N / 2) + rep(' a*').slice(0, N / 2),
  'strong openers': rep('**a '),
  underscores: rep('_a'),
  tildes: rep('~~a '),
  brackets: rep('['),
  'bracket paren': rep('[]('),
  'open links': rep('[a](https://a.io '),
  'nested brackets': rep('[').slice(0, N / 2) + rep('](https://a.io)').slice(0, N / 2),
  'backtick ladder': Array.from({ length: 440 }, (_, i) => '`'.repeat(i + 1) + 'a').join(' '),
  backticks: rep('`a'),
  'url punctuation': 'https://a.io/' + rep('!'),
  'url closers': 'https://a.io/' + rep(')'),
  'almost urls': rep('http://%'),
  'urls with stars': rep('https://a.io/*'),
  'many urls': rep('https://a.io/x '),
  'long line': rep('x'),
  backslashes: rep('\\'),
  ats: rep('@'),
  mentions: rep('@a_b '),
  'quote markers': rep('> '),
  'list markers': rep('- '),
  'numbered markers': rep('1. '),
  'indented items': Array.from({ length: 3000 }, (_, i) => ' '.repeat(i % 40) + '- x').join('\n'),
  fences: rep('```\n'),
  'fence runs': rep('````````x'),
  'short lines': rep('a\n'),
  'mixed markers': rep('*_~`[]()>-\\@h'),
  parens: rep('('),
};

test('100 KB adversarial inputs finish with bounded output', () => {
  for (const [name, s] of Object.entries(ADVERSARIAL)) {
    const ast = parse(s);
    assert.ok(depth(ast) <= 64, `${name}: depth ${depth(ast)}`);
    const plain = toPlain(ast);
    assert.ok(plain.length <= s.length + 16, `${name}: ${plain.length} chars of plain text from ${s.length}`);
    assertSafe(ast, name);
    assert.ok(toPlain(compact(ast, 240)).length <= 240, name);
  }
});

test('a hand-made tree with an unsafe href renders no link', () => {
  const ast = { type: 'doc', children: [{ type: 'paragraph', children: [{ type: 'link', href: 'javascript:alert(1)', children: [t('x')] }] }] };
  const els = elements(render(ast, { doc: fakeDoc }));
  assert.deepEqual(els.map((e) => [e.tagName, e.attrs.href]), [['SPAN', undefined]]);
});
