// Attachments: the upload queue and its words (lib/uploads.js), the
// XMLHttpRequest uploader (upload.js) against a fake XHR, and sends that
// carry file_ids through the outbox (chat.js).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAX_FILES, UploadQueue, dragHasFiles, fileHref, fileKind, filesLine, filesSummary, humanSize, isImage, pastedName,
  previewBox, previewText, retryable, splitFiles, transferFiles, uploadErrorText, urlExpired,
} from '../web/assets/lib/uploads.js';
import { uploadFile } from '../web/assets/upload.js';
import { ApiError } from '../web/assets/api.js';
import { ChatClient } from '../web/assets/chat.js';
import { createStore } from '../web/assets/state.js';
import { FakeClock, fakeJwt, flush } from './helpers.mjs';

const png = (id, name = `p${id}.png`) => ({ id, name, size: 2048, content_type: 'image/png', width: 800, height: 600, url: `/api/chat/files/${id}?exp=1&sig=a`, thumbnail_url: `/api/chat/files/${id}?thumb=1&exp=1&sig=b` });
const pdf = (id, name = `d${id}.pdf`) => ({ id, name, size: 150_000, content_type: 'application/pdf', width: null, height: null, url: `/api/chat/files/${id}?exp=1&sig=c`, thumbnail_url: null });

test('humanSize: bytes, then KB, MB, GB with one decimal below 10', () => {
  assert.equal(humanSize(0), '0 B');
  assert.equal(humanSize(1023), '1023 B');
  assert.equal(humanSize(1024), '1 KB');
  assert.equal(humanSize(1536), '1.5 KB');
  assert.equal(humanSize(150_000), '146 KB');
  assert.equal(humanSize(25 * 1024 * 1024), '25 MB');
  assert.equal(humanSize(3.4 * 1024 ** 3), '3.4 GB');
  assert.equal(humanSize(-1), '');
  assert.equal(humanSize('x'), '');
});

test('images are PNG/JPEG/GIF/WebP with a URL; SVG and others are cards', () => {
  assert.equal(isImage(png(1)), true);
  assert.equal(isImage({ ...png(1), content_type: 'image/svg+xml' }), false);
  assert.equal(isImage({ ...png(1), url: null, thumbnail_url: null }), false);
  assert.equal(isImage(pdf(2)), false);
  const { images, others } = splitFiles([png(1), pdf(2), null, { name: 'no id' }, png(3)]);
  assert.deepEqual(images.map((f) => f.id), [1, 3]);
  assert.deepEqual(others.map((f) => f.id), [2]);
  assert.deepEqual(splitFiles(undefined), { images: [], others: [] });
});

test('fileHref puts the API base before a relative URL and refuses other schemes', () => {
  assert.equal(fileHref('http://gw:8080/', '/api/chat/files/1?exp=2&sig=x'), 'http://gw:8080/api/chat/files/1?exp=2&sig=x');
  assert.equal(fileHref('', '/api/chat/files/1'), '/api/chat/files/1');
  assert.equal(fileHref('http://gw', 'https://cdn.example/f'), 'https://cdn.example/f');
  assert.equal(fileHref('http://gw', 'javascript:alert(1)'), null);
  assert.equal(fileHref('http://gw', '//evil.example/x'), null);
  assert.equal(fileHref('http://gw', null), null);
});

test('urlExpired reads the signed URL\'s exp (unix seconds), with a margin', () => {
  const now = 1_700_000_000_000;
  assert.equal(urlExpired('/api/chat/files/1?exp=1700000100&sig=x', now), false);
  assert.equal(urlExpired('/api/chat/files/1?exp=1700000100&sig=x', now, 200_000), true);
  assert.equal(urlExpired('/api/chat/files/1/thumbnail?exp=1699999999&sig=x', now), true);
  assert.equal(urlExpired('/api/chat/files/1?sig=x&exp=1700000000', now, 0), true);
  assert.equal(urlExpired('/api/chat/files/1?sig=x', now), false);
  assert.equal(urlExpired(null, now), false);
});

test('previewBox keeps the aspect within the bounds, never enlarges, squares the unknown', () => {
  assert.deepEqual(previewBox(800, 600, 360, 280), { width: 360, height: 270 });
  assert.deepEqual(previewBox(600, 1200, 360, 280), { width: 140, height: 280 });
  assert.deepEqual(previewBox(40, 30, 360, 280), { width: 40, height: 30 });
  assert.deepEqual(previewBox(null, 10, 360, 280), { width: 280, height: 280 });
  assert.deepEqual(previewBox(10000, 1, 360, 280), { width: 360, height: 1 });
});

test('fileKind names the icon', () => {
  assert.equal(fileKind(pdf(1)), 'pdf');
  assert.equal(fileKind({ name: 'notes.txt', content_type: 'text/plain; charset=utf-8' }), 'text');
  assert.equal(fileKind({ name: 'a.zip', content_type: 'application/zip' }), 'archive');
  assert.equal(fileKind({ name: 'x.bin', content_type: 'application/octet-stream' }), 'file');
  assert.equal(fileKind({ name: 'x.png', content_type: 'image/png' }), 'image');
});

test('summaries and previews of a message with files', () => {
  assert.equal(filesSummary([png(1, 'cat.png'), pdf(2, 'plan.pdf')]), '2 attachments: cat.png (image), plan.pdf');
  assert.equal(filesSummary([pdf(2, 'plan.pdf')]), '1 attachment: plan.pdf');
  assert.equal(filesSummary([]), '');
  assert.equal(filesLine([png(1, 'cat.png'), pdf(2, 'plan.pdf')]), '📎 cat.png, plan.pdf');
  assert.equal(previewText({ body: '', files: [pdf(2, 'plan.pdf')] }), '📎 plan.pdf');
  assert.equal(previewText({ body: 'look', files: [pdf(2)] }), 'look');
  assert.equal(previewText({ body: '' }), '');
});

test('upload errors in words: the server\'s message for known codes, retryable only for transient ones', () => {
  assert.equal(uploadErrorText(new ApiError(413, 'file_too_large', 'The file is larger than 25 MiB.')), 'The file is larger than 25 MiB.');
  assert.equal(uploadErrorText(new ApiError(413, 'http_413', '')), 'This file is too large.');
  assert.equal(uploadErrorText(new ApiError(422, 'image_too_large', '')), 'This image has too many pixels.');
  assert.equal(uploadErrorText(new ApiError(0, 'network_error', 'x')), 'Could not reach the server. Try again.');
  assert.equal(retryable(new ApiError(0, 'network_error', 'x')), true);
  assert.equal(retryable(new ApiError(0, 'aborted', 'x')), false);
  assert.equal(retryable(new ApiError(503, 'upstream_unavailable', 'x')), true);
  assert.equal(retryable(new ApiError(429, 'rate_limited', 'x')), true);
  assert.equal(retryable(new ApiError(413, 'file_too_large', 'x')), false);
  assert.equal(retryable(new ApiError(422, 'image_too_large', 'x')), false);
});

test('pasted images get a name with the time; named files keep theirs', () => {
  const at = new Date(2026, 11, 6, 9, 5, 7).getTime();
  assert.equal(pastedName({ name: 'image.png', type: 'image/png' }, at), 'pasted-20261206-090507.png');
  assert.equal(pastedName({ name: '', type: 'image/jpeg' }, at), 'pasted-20261206-090507.jpg');
  assert.equal(pastedName({ name: 'shot.webp', type: 'image/webp' }, at), 'shot.webp');
});

test('transferFiles takes files from items or files; dragHasFiles tells file drags', () => {
  const a = { name: 'a.png', type: 'image/png' };
  const b = { name: 'b.txt', type: 'text/plain' };
  const items = [{ kind: 'string', getAsFile: () => null }, { kind: 'file', getAsFile: () => a }, { kind: 'file', getAsFile: () => b }];
  assert.deepEqual(transferFiles({ items }), [a, b]);
  assert.deepEqual(transferFiles({ items, files: [] }, { imagesOnly: true }), [a]);
  assert.deepEqual(transferFiles({ items: [], files: [b] }), [b]);
  assert.deepEqual(transferFiles(null), []);
  assert.equal(dragHasFiles({ types: ['text/plain', 'Files'] }), true);
  assert.equal(dragHasFiles({ types: ['text/uri-list'] }), false);
});

test('the queue: progress, done, failure, at most MAX_FILES, and what a send may carry', () => {
  let changes = 0;
  const q = new UploadQueue({ onChange: () => changes++ });
  assert.deepEqual(q.sendable(''), { ok: false, reason: 'empty' });
  assert.deepEqual(q.sendable('hi'), { ok: true, reason: null });
  const { added } = q.add([{ name: 'a.png', size: 1000 }, { name: 'b.pdf', size: 4000 }]);
  assert.equal(added.length, 2);
  assert.equal(q.busy, true);
  assert.deepEqual(q.sendable('hi'), { ok: false, reason: 'uploading' });
  q.progress(added[0].key, 500, 1000);
  assert.equal(UploadQueue.percent(q.get(added[0].key)), 50);
  q.done(added[0].key, png(1));
  assert.equal(UploadQueue.percent(q.get(added[0].key)), 100);
  q.fail(added[1].key, new ApiError(413, 'file_too_large', 'Too large.'));
  assert.equal(q.get(added[1].key).state, 'error');
  assert.equal(q.get(added[1].key).error.message, 'Too large.');
  assert.equal(q.get(added[1].key).retryable, false);
  assert.deepEqual(q.sendable(''), { ok: false, reason: 'failed' });
  // A late progress or done for a failed item changes nothing.
  q.done(added[1].key, pdf(9));
  assert.equal(q.get(added[1].key).state, 'error');
  q.remove(added[1].key);
  assert.deepEqual(q.sendable(''), { ok: true, reason: null });
  assert.deepEqual(q.take().map((f) => f.id), [1]);
  assert.equal(q.size, 0);
  assert.deepEqual(q.take(), []);
  assert.ok(changes >= 6);

  const many = Array.from({ length: 12 }, (_, i) => ({ name: `f${i}`, size: 1 }));
  const res = q.add(many);
  assert.equal(res.added.length, MAX_FILES);
  assert.equal(res.refused, 2);
  assert.equal(q.add([{ name: 'more', size: 1 }]).refused, 1);
});

test('a failed transient upload restarts under the same key', () => {
  const q = new UploadQueue();
  const [it] = q.add([{ name: 'a.png', size: 10 }]).added;
  q.progress(it.key, 5, 10);
  q.fail(it.key, new ApiError(0, 'network_error', 'x'));
  assert.equal(q.get(it.key).retryable, true);
  assert.equal(q.restart(it.key), true);
  assert.equal(q.get(it.key).state, 'uploading');
  assert.equal(q.get(it.key).loaded, 0);
  assert.equal(q.restart(it.key), false);
});

// ---- upload.js --------------------------------------------------------------

/** An XMLHttpRequest stand-in: each instance recorded; the test answers it. */
class FakeXHR {
  static all = [];
  constructor() {
    this.headers = {};
    this.upload = {};
    this.aborted = false;
    FakeXHR.all.push(this);
  }
  open(method, url) {
    this.method = method;
    this.url = url;
  }
  setRequestHeader(k, v) {
    this.headers[k] = v;
  }
  send(body) {
    this.body = body;
  }
  abort() {
    this.aborted = true;
    this.onabort?.();
  }
  getResponseHeader() {
    return null;
  }
  answer(status, body) {
    this.status = status;
    this.responseText = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
    this.onload?.();
  }
}
class FakeForm {
  constructor() {
    this.parts = [];
  }
  append(name, value, filename) {
    this.parts.push({ name, value, filename });
  }
}

function fakeApi({ token = fakeJwt({ sub: '7', exp: 2_000_000_000 }) } = {}) {
  const api = {
    baseUrl: 'http://gw:8080',
    token,
    refreshes: 0,
    now: () => 1_700_000_000_000,
    hasStoredSession: () => true,
    refresh: async () => {
      api.refreshes++;
      api.token = fakeJwt({ sub: '7', exp: 2_000_000_001 });
    },
  };
  return api;
}

test('uploadFile posts the file as multipart field "file" with the token, reports progress, resolves with the file', async () => {
  FakeXHR.all = [];
  const api = fakeApi();
  const progress = [];
  const file = { name: 'cat.png', size: 1000 };
  const job = uploadFile(api, 3, file, { XHR: FakeXHR, FormDataCtor: FakeForm, onProgress: (l, t) => progress.push([l, t]) });
  await flush();
  const x = FakeXHR.all[0];
  assert.equal(x.method, 'POST');
  assert.equal(x.url, 'http://gw:8080/api/chat/rooms/3/files');
  assert.equal(x.headers.Authorization, `Bearer ${api.token}`);
  assert.deepEqual(x.body.parts, [{ name: 'file', value: file, filename: 'cat.png' }]);
  x.upload.onprogress({ loaded: 400, total: 1200, lengthComputable: true });
  x.upload.onprogress({ loaded: 10, lengthComputable: false });
  assert.deepEqual(progress, [[400, 1200], [10, 1000]]);
  x.answer(201, png(5, 'cat.png'));
  assert.deepEqual(await job.promise, png(5, 'cat.png'));
});

test('uploadFile: the server\'s JSON error becomes an ApiError with its code; a bare 413 too', async () => {
  FakeXHR.all = [];
  const api = fakeApi();
  const a = uploadFile(api, 3, { name: 'big.bin', size: 1 }, { XHR: FakeXHR, FormDataCtor: FakeForm });
  await flush();
  FakeXHR.all[0].answer(422, { error: { code: 'image_too_large', message: 'The image is over 50 megapixels.' } });
  await assert.rejects(a.promise, (err) => err instanceof ApiError && err.status === 422 && err.code === 'image_too_large' && err.message === 'The image is over 50 megapixels.');
  const b = uploadFile(api, 3, { name: 'big.bin', size: 1 }, { XHR: FakeXHR, FormDataCtor: FakeForm });
  await flush();
  FakeXHR.all[1].answer(413, '<html>Request Entity Too Large</html>');
  await assert.rejects(b.promise, (err) => err.status === 413 && err.code === 'file_too_large');
  const c = uploadFile(api, 3, { name: 'x', size: 1 }, { XHR: FakeXHR, FormDataCtor: FakeForm });
  await flush();
  FakeXHR.all[2].onerror();
  await assert.rejects(c.promise, (err) => err.status === 0 && err.code === 'network_error');
});

test('uploadFile: abort cancels the request (code aborted)', async () => {
  FakeXHR.all = [];
  const job = uploadFile(fakeApi(), 3, { name: 'a', size: 1 }, { XHR: FakeXHR, FormDataCtor: FakeForm });
  await flush();
  job.abort();
  assert.equal(FakeXHR.all[0].aborted, true);
  await assert.rejects(job.promise, (err) => err.code === 'aborted');
  // Aborted before the request started: none is sent.
  const early = uploadFile(fakeApi({ token: fakeJwt({ sub: '7', exp: 1_700_000_010 }) }), 3, { name: 'a', size: 1 }, { XHR: FakeXHR, FormDataCtor: FakeForm });
  early.abort();
  await assert.rejects(early.promise, (err) => err.code === 'aborted');
  assert.equal(FakeXHR.all.length, 1);
});

test('uploadFile: a 401 renews the token and sends once more', async () => {
  FakeXHR.all = [];
  const api = fakeApi();
  const first = api.token;
  const job = uploadFile(api, 3, { name: 'a', size: 1 }, { XHR: FakeXHR, FormDataCtor: FakeForm });
  await flush();
  FakeXHR.all[0].answer(401, { error: { code: 'unauthenticated', message: 'expired' } });
  await flush();
  assert.equal(api.refreshes, 1);
  assert.equal(FakeXHR.all.length, 2);
  assert.notEqual(FakeXHR.all[1].headers.Authorization, `Bearer ${first}`);
  FakeXHR.all[1].answer(201, pdf(4));
  assert.equal((await job.promise).id, 4);
});

test('uploadFile: a token about to expire is renewed before sending', async () => {
  FakeXHR.all = [];
  const api = fakeApi({ token: fakeJwt({ sub: '7', exp: 1_700_000_010 }) });
  uploadFile(api, 3, { name: 'a', size: 1 }, { XHR: FakeXHR, FormDataCtor: FakeForm });
  await flush();
  assert.equal(api.refreshes, 1);
  assert.equal(FakeXHR.all[0].headers.Authorization, `Bearer ${api.token}`);
});

// ---- sends with files ------------------------------------------------------

function client({ ready = true } = {}) {
  const clock = new FakeClock();
  const posts = [];
  const api = {
    user: { id: 7, username: 'ann' },
    get: async () => ({}),
    post: async (path, body) => {
      posts.push([path, body]);
      return { id: 1, room_id: 1, seq: 1, user_id: 7, username: 'ann', body: body.body, client_msg_id: body.client_msg_id, files: [png(11)], created_at: new Date().toISOString() };
    },
  };
  const frames = [];
  const chat = new ChatClient({ api, store: createStore({}), now: clock.now, setTimer: clock.setTimer, clearTimer: clock.clearTimer });
  chat.attach({ ready, send: (f) => frames.push(f), subscribe() {}, unsubscribe() {} });
  return { chat, frames, posts, clock };
}

test('a send with files and no text carries file_ids over the socket; without either nothing is sent', () => {
  const { chat, frames } = client();
  assert.equal(chat.send(1, '   '), null);
  assert.equal(chat.send(1, '', null, []), null);
  const e = chat.send(1, '  ', null, [png(11), pdf(12)]);
  assert.ok(e);
  assert.equal(e.body, '');
  assert.deepEqual(frames.at(-1), { type: 'send', room_id: 1, body: '', client_msg_id: e.client_msg_id, file_ids: [11, 12] });
  assert.deepEqual(e.files.map((f) => f.name), ['p11.png', 'd12.pdf']);
  // A reply with a file keeps both.
  const r = chat.send(1, 'see attached', 99, [pdf(13)]);
  assert.deepEqual(frames.at(-1), { type: 'send', room_id: 1, body: 'see attached', client_msg_id: r.client_msg_id, thread_root_id: 99, file_ids: [13] });
});

test('invalid_files fails the send for good; a retry resends the same file_ids under the same id', () => {
  const { chat, frames } = client();
  const e = chat.send(1, 'with a file', null, [pdf(12)]);
  chat.handle({ type: 'error', code: 'invalid_files', message: 'These files cannot be sent.', ref: e.client_msg_id });
  assert.equal(chat.outbox.get(e.client_msg_id).state, 'failed');
  assert.equal(chat.outbox.get(e.client_msg_id).error, 'These files cannot be sent.');
  chat.retrySend(e.client_msg_id);
  const sends = frames.filter((f) => f.client_msg_id === e.client_msg_id);
  assert.equal(sends.length, 2);
  assert.deepEqual(sends[1].file_ids, [12]);
});

test('without a socket the send goes over HTTP with file_ids', async () => {
  const { chat, posts } = client({ ready: false });
  chat.log(1).placeAt(0);
  const e = chat.send(1, '', null, [png(11)]);
  await flush();
  assert.deepEqual(posts[0], ['/api/chat/rooms/1/messages', { body: '', client_msg_id: e.client_msg_id, file_ids: [11] }]);
  assert.equal(chat.outbox.size, 0);
  assert.deepEqual(chat.log(1).messages()[0].files.map((f) => f.id), [11]);
});
