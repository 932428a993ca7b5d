import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RovingFocus, rovingTarget } from '../web/assets/lib/roving.js';

// Just enough of an element: a tab index, inner controls, focus.
class FakeEl {
  constructor(name, inner = 2) {
    this.name = name;
    this.tabIndex = -1;
    this.focused = 0;
    this.controls = Array.from({ length: inner }, (_, i) => ({ name: `${name}.${i}`, tabIndex: -1 }));
  }
  querySelectorAll() {
    return this.controls;
  }
  focus() {
    this.focused++;
  }
}

const items = (n) => Array.from({ length: n }, (_, i) => ({ el: new FakeEl(`m${i}`), key: `m:${i}` }));
// Every element or control in the Tab order.
const stops = (list) => list.flatMap((it) => [it.el, ...it.el.controls]).filter((x) => x.tabIndex >= 0).map((x) => x.name);

test('rovingTarget: arrows and pages step, Home and End jump, ends clamp', () => {
  assert.equal(rovingTarget('ArrowUp', 3, 5), 2);
  assert.equal(rovingTarget('ArrowDown', 3, 5), 4);
  assert.equal(rovingTarget('ArrowDown', 4, 5), 4);
  assert.equal(rovingTarget('ArrowUp', 0, 5), 0);
  assert.equal(rovingTarget('PageUp', 2, 5), 1);
  assert.equal(rovingTarget('PageDown', 2, 5), 3);
  assert.equal(rovingTarget('Home', 3, 5), 0);
  assert.equal(rovingTarget('End', 1, 5), 4);
  assert.equal(rovingTarget('Tab', 1, 5), null, 'Tab is left to the browser');
  assert.equal(rovingTarget('ArrowUp', 0, 0), null, 'an empty list');
  assert.equal(rovingTarget('ArrowUp', -1, 5), 4, 'from outside the list, Up reaches the newest');
});

test('one Tab stop: the newest message and its controls, nothing else', () => {
  const list = items(4);
  const r = new RovingFocus();
  for (const it of list) r.prepare(it.el, it.key);
  r.sync(list, false);
  assert.deepEqual(stops(list), ['m3', 'm3.0', 'm3.1']);
});

test('moving hands the Tab stop over and focuses the new current message', () => {
  const list = items(4);
  const r = new RovingFocus();
  r.sync(list, false);
  const it = r.move('ArrowUp', list, 3);
  assert.equal(it.key, 'm:2');
  assert.equal(list[2].el.focused, 1);
  assert.deepEqual(stops(list), ['m2', 'm2.0', 'm2.1']);
  r.move('Home', list, 2);
  assert.deepEqual(stops(list), ['m0', 'm0.0', 'm0.1']);
  assert.equal(r.move('x', list, 0), null);
});

test('a rebuilt current message keeps the Tab stop (it is tracked by key)', () => {
  const list = items(3);
  const r = new RovingFocus();
  r.sync(list, false);
  r.move('ArrowUp', list, 2); // m1 current
  const fresh = new FakeEl('m1-rebuilt');
  r.prepare(fresh, 'm:1');
  assert.equal(fresh.tabIndex, 0);
  assert.ok(fresh.controls.every((c) => c.tabIndex === 0));
  const other = new FakeEl('m2-rebuilt');
  r.prepare(other, 'm:2');
  assert.equal(other.tabIndex, -1, 'a rebuilt non-current message stays out');
  assert.ok(other.controls.every((c) => c.tabIndex === -1));
});

test('sync: the stop follows new messages only when asked, and survives a removal', () => {
  const list = items(3);
  const r = new RovingFocus();
  r.sync(list, false);
  r.move('ArrowUp', list, 2); // the reader is on m1
  const grown = [...list, { el: new FakeEl('m3'), key: 'm:3' }];
  r.sync(grown, false);
  assert.equal(r.key, 'm:1', 'a new message does not pull the reader away');
  r.sync(grown, true);
  assert.equal(r.key, 'm:3', 'with the focus elsewhere the stop is on the newest');
  assert.deepEqual(stops(grown), ['m3', 'm3.0', 'm3.1']);
  const shrunk = grown.filter((it) => it.key !== 'm:3');
  r.sync(shrunk, false);
  assert.equal(r.key, 'm:2', 'the current message went: the newest takes over');
  r.sync([], false);
  assert.equal(r.el, null);
});
