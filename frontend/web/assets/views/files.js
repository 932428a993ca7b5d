// Files in the SPA, as DOM: a message's attachments (images as previews
// opening the lightbox, other files as cards with a download link), the
// files of a message still in the outbox, and the composer's attachments
// (the paperclip button, dropping and pasting files, one chip per upload
// with its progress bar and Cancel). File names are untrusted: they go in
// as text only. The queue's rules are in lib/uploads.js, the request in
// upload.js.

import { h } from '../ui/dom.js';
import { fileIcon } from '../ui/fileicons.js';
import { openLightbox } from '../ui/lightbox.js';
import { say } from '../ui/live.js';
import { MAX_FILES, UploadQueue, dragHasFiles, fileHref, fileKind, filesSummary, humanSize, pastedName, previewBox, splitFiles, transferFiles, urlExpired } from '../lib/uploads.js';
import { uploadFile } from '../upload.js';

// ---- a message's files ------------------------------------------------------

/**
 * The attachments of msg, or null without any. labelId names a hidden
 * summary ("2 attachments: …") that the message's accessible name takes in.
 */
export function messageFiles(ctx, msg, { labelId } = {}) {
  if (msg.deleted) return null;
  const { images, others } = splitFiles(msg.files);
  if (images.length === 0 && others.length === 0) return null;
  const base = ctx.api.baseUrl;
  const el = h('div', { class: 'msg-files', testid: 'message-files' });
  if (labelId) el.append(h('span', { id: labelId, hidden: true, text: filesSummary(msg.files) }));
  if (images.length) {
    const grid = h('div', { class: ['file-images', images.length > 1 && 'several'] });
    images.forEach((f, i) => {
      const box = images.length > 1 ? previewBox(f.width, f.height, 220, 180) : previewBox(f.width, f.height, 360, 280);
      const img = h('img', { class: 'file-thumb', alt: String(f.name ?? 'image'), width: box.width, height: box.height, loading: 'lazy', decoding: 'async', src: fileHref(base, f.thumbnail_url || f.url) ?? '#' });
      img.addEventListener('error', () => {
        freshFiles(ctx, msg).then((ok) => {
          const src = ok ? fileHref(base, f.thumbnail_url || f.url) : null;
          if (src && src !== img.src) img.src = src;
          else img.closest('.file-image')?.classList.add('broken');
        });
      }, { once: true });
      grid.append(h('button', {
        type: 'button', tabindex: '-1', class: 'file-image', testid: 'file-image', title: `Open ${f.name ?? 'image'}`,
        'aria-haspopup': 'dialog', 'aria-expanded': 'false', dataset: { fileId: f.id, focusKey: `file-${f.id}` },
        onClick: async (e) => {
          const opener = e.currentTarget;
          if (urlExpired(f.url)) await freshFiles(ctx, msg);
          openImages(ctx, msg, images, i, opener);
        },
      }, img));
    });
    el.append(grid);
  }
  for (const f of others) el.append(fileCard(ctx, msg, f));
  return el;
}

/** A non-image file: its kind's icon, name, size and a download link. */
function fileCard(ctx, msg, f) {
  const name = String(f.name ?? 'file');
  const href = fileHref(ctx.api.baseUrl, f.url);
  const size = humanSize(f.size);
  return h('div', { class: 'file-card', testid: 'file-card', dataset: { fileId: f.id } },
    h('span', { class: `file-card-icon kind-${fileKind(f)}` }, fileIcon(fileKind(f))),
    h('span', { class: 'file-card-text' },
      h('span', { class: 'file-card-name', testid: 'file-name', title: name, text: name }),
      h('span', { class: 'file-card-size', testid: 'file-size', text: size })),
    href ? h('a', {
      class: 'btn btn-small btn-ghost file-download', testid: 'file-download', href, download: name, tabindex: '-1',
      rel: 'noopener noreferrer', 'aria-label': `Download ${name}, ${size}`, dataset: { focusKey: `download-${f.id}` },
      onClick: (e) => {
        // An expired link would download the server's error: fetch fresh
        // URLs first, then follow the new one.
        if (!urlExpired(f.url)) return;
        e.preventDefault();
        const a = e.currentTarget;
        freshFiles(ctx, msg).then(() => {
          const fresh = fileHref(ctx.api.baseUrl, f.url);
          if (fresh && !urlExpired(f.url)) {
            a.href = fresh;
            a.click();
          }
        });
      },
    }, fileIcon('download'), h('span', { class: 'file-download-label', text: 'Download' })) : null);
}

/** Opens the lightbox on a message's images. */
function openImages(ctx, msg, images, index, opener) {
  const base = ctx.api.baseUrl;
  const fid = images[index]?.id;
  opener?.setAttribute('aria-expanded', 'true');
  openLightbox(images.map((f) => ({
    name: String(f.name ?? 'image'), size: f.size, width: f.width, height: f.height,
    src: fileHref(base, f.url) ?? '#', download: fileHref(base, f.url) ?? '#',
  })), index, {
    opener,
    // The message may have been re-rendered meanwhile: its preview again.
    fallback: () => document.querySelector(`.msg[data-id="${msg.id}"] [data-testid=file-image][data-file-id="${fid}"]`),
    onClose: () => opener?.setAttribute('aria-expanded', 'false'),
  });
}

// Signed URLs expire (hours after the message was fetched): a page left
// open fetches the message again for fresh ones, which replace the held
// ones in place (the log's copy, so later renders, the lightbox and links
// use them). At most once a minute per message; resolves false on failure.
const refreshing = new Map(); // message id → {at, promise}
function freshFiles(ctx, msg) {
  const held = refreshing.get(msg.id);
  if (held && Date.now() - held.at < 60_000) return held.promise;
  const promise = ctx.api.get(`/api/chat/messages/${Number(msg.id)}`).then((fresh) => {
    for (const nf of fresh?.files ?? []) {
      const f = (msg.files ?? []).find((x) => x.id === nf.id);
      if (f) Object.assign(f, nf);
    }
    return true;
  }, () => false);
  refreshing.set(msg.id, { at: Date.now(), promise });
  if (refreshing.size > 500) refreshing.delete(refreshing.keys().next().value);
  return promise;
}

/** The files of a send still in the outbox (uploaded already): small chips. */
export function pendingFiles(ctx, files) {
  if (!files?.length) return null;
  return h('ul', { class: 'pending-files', 'aria-label': filesSummary(files) },
    files.map((f) => h('li', { class: 'attach-chip done' },
      h('span', { class: 'attach-icon' }, fileIcon(fileKind(f))),
      h('span', { class: 'attach-name', text: String(f.name ?? 'file') }))));
}

// ---- the composer's attachments -------------------------------------------

// Queues outlive the composer (a room left and opened again, a re-render):
// per app context, by composer key. Running uploads go on meanwhile.
const queues = new WeakMap();
function queueFor(ctx, key) {
  let m = queues.get(ctx);
  if (!m) {
    m = new Map();
    queues.set(ctx, m);
  }
  let q = m.get(key);
  if (!q) {
    q = { queue: new UploadQueue({ max: MAX_FILES }), jobs: new Map(), blobs: new Map(), sources: new Map() };
    m.set(key, q);
  }
  return q;
}

/**
 * The attachments of one composer. o: {roomId, key (the queue's: 'room:1',
 * 'thread:9'), label (what the files go to, for the drop hint), name (the
 * paperclip's and the tray's accessible names when not the room's), guardPage
 * (files dropped outside any zone are ignored, not opened), textarea,
 * dropZone (the element files may be dropped on), onChange (the send
 * button's state may change)}. Returns {button, input, tray, overlay,
 * sendable(body), take(), focus(), destroy()}.
 */
export function attachments(ctx, o) {
  const q = queueFor(ctx, o.key);
  const { queue, jobs, blobs, sources } = q;
  const input = h('input', { type: 'file', class: 'visually-hidden', multiple: true, tabindex: '-1', 'aria-hidden': 'true', testid: 'file-input' });
  const button = h('button', {
    type: 'button', class: 'attach-btn icon-btn', testid: 'attach-button', 'aria-label': o.name?.button ?? 'Attach files', title: `Attach files (up to ${MAX_FILES})`,
    dataset: { focusKey: `attach-${o.key}` }, onClick: () => input.click(),
  }, fileIcon('paperclip'));
  input.addEventListener('change', () => {
    addFiles([...input.files]);
    input.value = '';
  });
  const tray = h('ul', { class: 'attach-tray', testid: 'attach-tray', 'aria-label': o.name?.tray ?? 'Attachments', hidden: true });
  const overlay = h('div', { class: 'drop-overlay', testid: 'drop-overlay', hidden: true, 'aria-hidden': 'true' },
    h('div', { class: 'drop-box' }, fileIcon('upload'), h('span', { text: `Drop files to attach${o.label ? ` to ${o.label}` : ''}` })));
  const chips = new Map(); // item key → {el, state}

  function addFiles(files, { pasted = false } = {}) {
    if (!files.length) return;
    const named = files.map((f) => (pasted ? renamed(f) : f));
    const { added, refused } = queue.add(named);
    added.forEach((it, i) => {
      sources.set(it.key, named[i]);
      if (String(named[i].type ?? '').startsWith('image/') && globalThis.URL?.createObjectURL) blobs.set(it.key, URL.createObjectURL(named[i]));
      start(it.key);
    });
    if (refused > 0) say(`At most ${MAX_FILES} files per message: ${refused} not attached.`);
    if (added.length) say(added.length === 1 ? `Uploading ${added[0].name}` : `Uploading ${added.length} files`);
  }

  function start(key) {
    const file = sources.get(key);
    if (!file) return;
    const job = uploadFile(ctx.api, o.roomId, file, { onProgress: (loaded, total) => queue.progress(key, loaded, total) });
    jobs.set(key, job);
    job.promise.then((f) => {
      jobs.delete(key);
      const it = queue.get(key);
      queue.done(key, f);
      if (it) say(`${it.name} uploaded`);
    }, (err) => {
      jobs.delete(key);
      const it = queue.get(key);
      if (!it || err?.code === 'aborted') return;
      queue.fail(key, err);
      say(`${it.name} could not be uploaded: ${queue.get(key)?.error?.message ?? ''}`);
    });
  }

  function cancel(key, how) {
    const it = queue.get(key);
    jobs.get(key)?.abort();
    jobs.delete(key);
    sources.delete(key);
    const url = blobs.get(key);
    if (url) URL.revokeObjectURL(url);
    blobs.delete(key);
    // The focus stays in the tray: the next chip's button, or the paperclip.
    const idx = queue.items.findIndex((x) => x.key === key);
    queue.remove(key);
    if (it) say(how === 'cancel' ? `Upload of ${it.name} cancelled` : `${it.name} removed`);
    const next = queue.items[Math.min(idx, queue.items.length - 1)];
    const target = next ? chips.get(next.key)?.el.querySelector('button') : null;
    (target ?? o.textarea ?? button).focus({ preventScroll: true });
  }

  function chip(it) {
    const name = it.name;
    const thumb = blobs.get(it.key);
    const els = [
      thumb ? h('img', { class: 'attach-thumb', alt: '', src: thumb }) : h('span', { class: 'attach-icon' }, fileIcon(fileKind({ name, content_type: sources.get(it.key)?.type }))),
      h('span', { class: 'attach-text' },
        h('span', { class: 'attach-name', testid: 'attach-name', title: name, text: name }),
        h('span', { class: 'attach-size', text: humanSize(it.size) })),
    ];
    if (it.state === 'uploading') {
      els.push(h('progress', { class: 'attach-progress', testid: 'attach-progress', max: '100', value: String(UploadQueue.percent(it)), 'aria-label': `Uploading ${name}` }),
        h('button', { type: 'button', class: 'link-btn attach-cancel', testid: 'attach-cancel', 'aria-label': `Cancel upload of ${name}`, dataset: { focusKey: `cancel-${it.key}` }, onClick: () => cancel(it.key, 'cancel') }, 'Cancel'));
    } else if (it.state === 'error') {
      els.push(h('span', { class: 'attach-error', testid: 'attach-error', role: 'note', text: it.error?.message ?? 'Could not upload.' }));
      if (it.retryable) els.push(h('button', { type: 'button', class: 'icon-btn attach-retry', testid: 'attach-retry', 'aria-label': `Retry uploading ${name}`, title: 'Retry', dataset: { focusKey: `retry-${it.key}` }, onClick: () => { if (queue.restart(it.key)) start(it.key); } }, fileIcon('refresh')));
    }
    if (it.state !== 'uploading') {
      els.push(h('button', { type: 'button', class: 'icon-btn attach-remove', testid: 'attach-remove', 'aria-label': `Remove ${name}`, title: 'Remove', dataset: { focusKey: `remove-${it.key}` }, onClick: () => cancel(it.key, 'remove') }, fileIcon('x')));
    }
    return h('li', { class: ['attach-chip', it.state], testid: 'attach-chip', dataset: { key: it.key, state: it.state } }, ...els);
  }

  function render() {
    const live = new Set(queue.items.map((it) => it.key));
    for (const [k, c] of chips) {
      if (!live.has(k)) {
        c.el.remove();
        chips.delete(k);
      }
    }
    let cursor = tray.firstChild;
    for (const it of queue.items) {
      let c = chips.get(it.key);
      if (c && c.state !== it.state) {
        const had = c.el.contains(document.activeElement);
        const fresh = chip(it);
        if (cursor === c.el) cursor = fresh;
        c.el.replaceWith(fresh);
        c = { el: fresh, state: it.state };
        chips.set(it.key, c);
        if (had) (fresh.querySelector('button') ?? o.textarea)?.focus({ preventScroll: true });
      } else if (!c) {
        c = { el: chip(it), state: it.state };
        chips.set(it.key, c);
      } else if (it.state === 'uploading') {
        c.el.querySelector('progress')?.setAttribute('value', String(UploadQueue.percent(it)));
      }
      if (c.el !== cursor) tray.insertBefore(c.el, cursor);
      cursor = c.el.nextSibling;
    }
    tray.hidden = queue.size === 0;
    o.onChange?.();
  }
  queue.onChange = render;

  // Dropping files anywhere on the zone; the overlay shows while a drag
  // carrying files is over it (enter/leave counted: children fire them too).
  // A zone inside another (the thread pane in the room) has the drags over
  // it to itself: each zone counts only events whose target's nearest zone
  // is itself.
  let depth = 0;
  const zone = o.dropZone;
  if (zone) zone.dataset.dropZone = o.key;
  const mine = (e) => dragHasFiles(e.dataTransfer) && e.target?.closest?.('[data-drop-zone]') === zone;
  const onEnter = (e) => {
    if (!mine(e)) return;
    e.preventDefault();
    depth++;
    overlay.hidden = false;
    zone.classList.add('dragging-files');
  };
  const onOver = (e) => {
    if (!mine(e)) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = 'copy';
  };
  const onLeave = (e) => {
    if (!mine(e)) return;
    depth = Math.max(0, depth - 1);
    if (depth === 0) hideOverlay();
  };
  const hideOverlay = () => {
    depth = 0;
    overlay.hidden = true;
    zone.classList.remove('dragging-files');
  };
  const onDrop = (e) => {
    if (!mine(e)) {
      hideOverlay();
      return;
    }
    e.preventDefault();
    hideOverlay();
    addFiles(transferFiles(e.dataTransfer));
    o.textarea?.focus({ preventScroll: true });
  };
  // A file dropped beside the zone (the sidebar) would make the browser
  // open it in place of the app: such drops do nothing.
  const guard = (e) => {
    if (dragHasFiles(e.dataTransfer) && !e.target?.closest?.('[data-drop-zone]')) e.preventDefault();
  };
  if (o.guardPage) {
    window.addEventListener('dragover', guard);
    window.addEventListener('drop', guard);
  }
  if (zone) {
    zone.addEventListener('dragenter', onEnter);
    zone.addEventListener('dragover', onOver);
    zone.addEventListener('dragleave', onLeave);
    zone.addEventListener('drop', onDrop);
  }
  // Pasting: files on the clipboard (a screenshot, a copied image) attach;
  // text pastes as usual.
  const onPaste = (e) => {
    const files = transferFiles(e.clipboardData);
    if (files.length === 0) return;
    e.preventDefault();
    addFiles(files, { pasted: true });
  };
  o.textarea?.addEventListener('paste', onPaste);
  render();

  return {
    button, input, tray, overlay,
    /** Adds files as the picker would (tests, other callers). */
    add: (files) => addFiles([...files]),
    /** {ok, reason} for a send with body (see UploadQueue.sendable). */
    sendable: (body) => queue.sendable(body),
    /** Says why a send has to wait. */
    explain(reason) {
      if (reason === 'uploading') say('Wait for the uploads to finish, then send.');
      else if (reason === 'failed') say('An attachment could not be uploaded: remove it or retry it first.');
    },
    /** The uploaded files, taken out of the tray for a send. */
    take() {
      for (const it of queue.items) {
        if (it.state !== 'done') continue;
        const url = blobs.get(it.key);
        if (url) URL.revokeObjectURL(url);
        blobs.delete(it.key);
        sources.delete(it.key);
      }
      return queue.take();
    },
    get size() {
      return queue.size;
    },
    destroy() {
      if (queue.onChange === render) queue.onChange = null;
      if (zone) {
        zone.removeEventListener('dragenter', onEnter);
        zone.removeEventListener('dragover', onOver);
        zone.removeEventListener('dragleave', onLeave);
        zone.removeEventListener('drop', onDrop);
      }
      o.textarea?.removeEventListener('paste', onPaste);
      if (o.guardPage) {
        window.removeEventListener('dragover', guard);
        window.removeEventListener('drop', guard);
      }
    },
  };
}

// A pasted image gets a name that tells it apart ("image.png" otherwise).
function renamed(f) {
  const name = pastedName(f);
  if (name === f.name || typeof File !== 'function') return f;
  return new File([f], name, { type: f.type, lastModified: f.lastModified });
}
