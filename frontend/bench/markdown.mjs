// Parse timings of lib/markdown.js (not a test: nothing is asserted).
// node frontend/bench/markdown.mjs
import { compact, parse, render, toPlain } from '../web/assets/lib/markdown.js';

const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
function time(label, f, runs = 7) {
  f();
  const xs = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    f();
    xs.push(performance.now() - t0);
  }
  console.log(`${label.padEnd(44)} ${median(xs).toFixed(2).padStart(9)} ms`);
}

const typical = Array.from({ length: 2000 }, (_, i) => `message ${i}: the mockups are at https://example.com/m?v=${i} — **thoughts**? _soon_ @alice`);
time('2,000 typical one-line messages', () => typical.forEach(parse));
const line = '**Release** and _notes_ with `code`, [the board](https://example.com/b) and https://example.com/c @ann\n';
const big = ('```go\n' + 'fmt.Println("x")\n'.repeat(30) + '```\n> a quote\n- a\n- b\n' + line.repeat(40)).slice(0, 4000);
time(`one ${big.length.toLocaleString('en')}-character formatted message`, () => parse(big));
time('  … plain text and one line of it', () => { const a = parse(big); toPlain(a); compact(a, 240); });

const N = 100_000;
const rep = (s) => s.repeat(Math.ceil(N / s.length)).slice(0, N);
const fake = { createElement: () => ({ setAttribute() {}, appendChild() {} }), createTextNode: () => ({}), createDocumentFragment: () => ({ appendChild() {} }) };
for (const [name, s] of Object.entries({
  'long line of x': rep('x'),
  'emphasis openers then closers': rep('*a ').slice(0, N / 2) + rep(' a*').slice(0, N / 2),
  'unclosed brackets': rep('['),
  '"[](" repeated': rep('[]('),
  'backtick runs': rep('`a'),
  'URL then punctuation': 'https://a.io/' + rep('!'),
  'almost-URLs': rep('http://%'),
  'quote markers on one line': rep('> '),
  'one character per line': rep('a\n'),
  'every marker': rep('*_~`[]()>-\\@h'),
})) time(`100 KB: ${name}`, () => render(parse(s), { doc: fake }), 3);
