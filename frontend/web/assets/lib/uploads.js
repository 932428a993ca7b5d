// Attachments, the pure part: the queue of a composer's uploads (each file
// uploading, done or failed, with its progress), what a send may carry, the
// words for sizes and upload errors, and which files of a message are shown
// as images. No DOM and no network: the composer (views/files.js) drives it
// and the uploader (upload.js) reports into it.

/** At most this many files go with one message (the server's limit too). */
export const MAX_FILES = 10;

/** Types the server serves inline and thumbnails: shown as images. */
const INLINE_IMAGES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);

/** "0 B", "999 B", "1.5 KB", "12 KB", "3.4 MB", "1.2 GB" (1 KB = 1024 B). */
export function humanSize(bytes) {
  let n = Number(bytes);
  if (!Number.isFinite(n) || n < 0) return '';
  if (n < 1024) return `${Math.round(n)} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let u = -1;
  while (n >= 1024 && u < units.length - 1) {
    n /= 1024;
    u++;
  }
  return `${n < 10 ? Math.round(n * 10) / 10 : Math.round(n)} ${units[u]}`;
}

/** Whether a file object (the server's) is an image shown inline. */
export function isImage(f) {
  return !!f && INLINE_IMAGES.has(String(f.content_type ?? '').toLowerCase()) && !!(f.thumbnail_url || f.url);
}

/** A message's files split into images (previews) and others (cards), in order. */
export function splitFiles(files) {
  const images = [];
  const others = [];
  for (const f of Array.isArray(files) ? files : []) {
    if (!f || f.id == null) continue;
    (isImage(f) ? images : others).push(f);
  }
  return { images, others };
}

/**
 * A file URL the page can use: the server's URLs are relative to the API
 * (the gateway), which may be another origin than the page's. Only paths
 * and http(s) URLs pass; anything else is null.
 */
export function fileHref(baseUrl, url) {
  const s = String(url ?? '').trim();
  if (s.startsWith('/') && !s.startsWith('//')) return `${String(baseUrl ?? '').replace(/\/+$/, '')}${s}`;
  if (/^https?:\/\//i.test(s)) return s;
  return null;
}

/**
 * Whether a signed file URL has expired, or will within marginMs: its exp
 * query parameter (unix seconds) is past. A URL without one never does.
 */
export function urlExpired(url, now = Date.now(), marginMs = 30_000) {
  const m = /[?&]exp=(\d{1,12})(?:&|$)/.exec(String(url ?? ''));
  if (!m) return false;
  return Number(m[1]) * 1000 <= now + marginMs;
}

/**
 * Display size of an image preview: width and height bounded by maxW and
 * maxH, aspect kept, so the timeline reserves the space before the image
 * loads. Unknown dimensions give a box of maxH × maxH.
 */
export function previewBox(width, height, maxW = 360, maxH = maxW) {
  const w = Number(width);
  const h = Number(height);
  if (!(w > 0) || !(h > 0)) return { width: maxH, height: maxH };
  const scale = Math.min(1, maxW / w, maxH / h);
  return { width: Math.max(1, Math.round(w * scale)), height: Math.max(1, Math.round(h * scale)) };
}

/** A line standing for a message's files where only text fits (previews, announcements): "📎 a.png, b.pdf". */
export function filesLine(files) {
  const list = (Array.isArray(files) ? files : []).filter((f) => f && f.id != null);
  if (list.length === 0) return '';
  return `📎 ${list.map((f) => String(f.name ?? 'file')).join(', ')}`;
}

/** A message's text for one-line previews: its body, or its files when it has none. */
export function previewText(msg) {
  const body = String(msg?.body ?? '');
  return body.trim() !== '' ? body : filesLine(msg?.files);
}

/** A short kind for a file's icon and card: image, pdf, text, archive, audio, video or file. */
export function fileKind(f) {
  const t = String(f?.content_type ?? '').toLowerCase();
  const name = String(f?.name ?? '').toLowerCase();
  if (t.startsWith('image/')) return 'image';
  if (t === 'application/pdf' || name.endsWith('.pdf')) return 'pdf';
  if (t.startsWith('text/') || /\.(txt|md|csv|log|json)$/.test(name)) return 'text';
  if (/zip|gzip|x-tar|x-7z|rar/.test(t) || /\.(zip|gz|tgz|tar|7z|rar)$/.test(name)) return 'archive';
  if (t.startsWith('audio/')) return 'audio';
  if (t.startsWith('video/')) return 'video';
  return 'file';
}

/** What to say about a failed upload: the server's message when it sent one for a known case. */
export function uploadErrorText(err) {
  const code = err?.code ?? '';
  // An ApiError without a message carries its code as the message.
  const said = err?.message && err.message !== code ? err.message : '';
  switch (code) {
    case 'file_too_large':
      return said || 'This file is too large.';
    case 'image_too_large':
      return said || 'This image has too many pixels.';
    case 'aborted':
      return 'Upload cancelled.';
    case 'network_error':
      return 'Could not reach the server. Try again.';
    case 'not_found':
    case 'room_not_found':
      return 'This room is not there any more.';
    default:
      if (err?.status === 413) return 'This file is too large.';
      return said || 'Could not upload this file.';
  }
}

/** Whether trying the same upload again may work (network, 5xx, 429). */
export function retryable(err) {
  const s = Number(err?.status);
  return s === 0 && err?.code !== 'aborted' ? true : s === 429 || s >= 500;
}

/**
 * The name of a pasted image: browsers call every clipboard image
 * "image.png"; several in one message get told apart by the time.
 */
export function pastedName(file, now = Date.now()) {
  const name = String(file?.name ?? '');
  if (name && name !== 'image.png' && name !== 'blob') return name;
  const ext = ({ 'image/png': 'png', 'image/jpeg': 'jpg', 'image/gif': 'gif', 'image/webp': 'webp' })[file?.type] ?? 'png';
  const d = new Date(now);
  const p = (n) => String(n).padStart(2, '0');
  return `pasted-${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}.${ext}`;
}

/**
 * The uploads of one composer (a room's, or a thread's). Each item: {key,
 * name, size, state: 'uploading' | 'done' | 'error', loaded, total, file
 * (the server's object once done), error ({code, message, status}),
 * retryable}. onChange runs after every change.
 */
export class UploadQueue {
  constructor({ max = MAX_FILES, onChange = null } = {}) {
    this.max = max;
    this.items = [];
    this.onChange = onChange;
    this.nextKey = 1;
  }

  _changed() {
    this.onChange?.(this);
  }

  /**
   * Adds files ([{name, size}]) as uploading items, as many as fit under
   * max; returns {added: [items], refused: the number left out}.
   */
  add(files) {
    const room = Math.max(0, this.max - this.items.length);
    const list = [...files];
    const added = list.slice(0, room).map((f) => ({
      key: `u${this.nextKey++}`,
      name: String(f?.name ?? 'file'),
      size: Number(f?.size) || 0,
      state: 'uploading',
      loaded: 0,
      total: Number(f?.size) || 0,
      file: null,
      error: null,
      retryable: false,
    }));
    this.items.push(...added);
    if (added.length) this._changed();
    return { added, refused: list.length - added.length };
  }

  get(key) {
    return this.items.find((it) => it.key === key) ?? null;
  }

  /** Records upload progress (bytes sent of total). */
  progress(key, loaded, total) {
    const it = this.get(key);
    if (!it || it.state !== 'uploading') return;
    it.loaded = Math.max(0, Number(loaded) || 0);
    if (Number(total) > 0) it.total = Number(total);
    this._changed();
  }

  /** The upload finished: file is the server's file object. */
  done(key, file) {
    const it = this.get(key);
    if (!it || it.state !== 'uploading') return;
    it.state = 'done';
    it.file = file;
    it.loaded = it.total;
    this._changed();
  }

  /** The upload failed (err: an ApiError-like {status, code, message}). */
  fail(key, err) {
    const it = this.get(key);
    if (!it || it.state !== 'uploading') return;
    it.state = 'error';
    it.error = { code: err?.code ?? 'error', message: uploadErrorText(err), status: Number(err?.status) || 0 };
    it.retryable = retryable(err);
    this._changed();
  }

  /** A failed item uploads again (the same key). */
  restart(key) {
    const it = this.get(key);
    if (!it || it.state !== 'error') return false;
    it.state = 'uploading';
    it.loaded = 0;
    it.error = null;
    it.retryable = false;
    this._changed();
    return true;
  }

  /** Removes an item (cancelled or discarded); returns it or null. */
  remove(key) {
    const i = this.items.findIndex((it) => it.key === key);
    if (i < 0) return null;
    const [it] = this.items.splice(i, 1);
    this._changed();
    return it;
  }

  /** Whether an upload is still running. */
  get busy() {
    return this.items.some((it) => it.state === 'uploading');
  }

  /** The uploaded files, in the order added. */
  get ready() {
    return this.items.filter((it) => it.state === 'done').map((it) => it.file);
  }

  /** Whether the queue holds a failed upload. */
  get failed() {
    return this.items.some((it) => it.state === 'error');
  }

  get size() {
    return this.items.length;
  }

  /**
   * Whether a message with this body can be sent now, and why not:
   * {ok, reason: 'empty' | 'uploading' | 'failed' | null}. A message needs
   * text or at least one uploaded file; it waits for running uploads, and
   * a failed one must be removed (or retried) first, so nothing the user
   * attached is silently left out.
   */
  sendable(body) {
    if (this.busy) return { ok: false, reason: 'uploading' };
    if (this.failed) return { ok: false, reason: 'failed' };
    const blank = String(body ?? '').trim() === '';
    if (blank && this.ready.length === 0) return { ok: false, reason: 'empty' };
    return { ok: true, reason: null };
  }

  /** Takes the uploaded files out for a send: returns them and empties the queue of them. */
  take() {
    const files = this.ready;
    if (files.length === 0) return [];
    this.items = this.items.filter((it) => it.state !== 'done');
    this._changed();
    return files;
  }

  /** The percentage sent of an item, 0–100. */
  static percent(it) {
    if (!it) return 0;
    if (it.state === 'done') return 100;
    if (!(it.total > 0)) return 0;
    return Math.max(0, Math.min(100, Math.floor((it.loaded / it.total) * 100)));
  }
}

/** Files among a DataTransfer's items or files (a drop, a paste); images only with imagesOnly. */
export function transferFiles(dt, { imagesOnly = false } = {}) {
  if (!dt) return [];
  let files = [];
  if (dt.items && dt.items.length) {
    for (const item of dt.items) {
      if (item.kind !== 'file') continue;
      const f = item.getAsFile?.();
      if (f) files.push(f);
    }
  } else if (dt.files) {
    files = [...dt.files];
  }
  return imagesOnly ? files.filter((f) => String(f.type ?? '').startsWith('image/')) : files;
}

/** Whether a drag carries files (not text or a link dragged within the page). */
export function dragHasFiles(dt) {
  const types = dt?.types ? [...dt.types] : [];
  return types.includes('Files');
}

/** "2 attachments: a.png, b.pdf" for a message's accessible name; '' without files. */
export function filesSummary(files) {
  const list = (Array.isArray(files) ? files : []).filter((f) => f && f.id != null);
  if (list.length === 0) return '';
  const names = list.map((f) => `${String(f.name ?? 'file')}${isImage(f) ? ' (image)' : ''}`).join(', ');
  return `${list.length} ${list.length === 1 ? 'attachment' : 'attachments'}: ${names}`;
}
