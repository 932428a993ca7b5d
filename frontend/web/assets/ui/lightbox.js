// The image lightbox: a modal <dialog> (showModal makes the rest of the
// page inert, so the focus stays inside) showing one of a message's images
// at full size, with its name, "n of m", previous/next buttons (and the
// Left/Right arrow keys), a download link and a close button; Escape
// closes it and the focus goes back to the preview that opened it.

import { h } from './dom.js';
import { fileIcon as icon } from './fileicons.js';
import { rememberFocus, trapTab } from './focus.js';
import { humanSize } from '../lib/uploads.js';

let seq = 0;

/**
 * Opens the lightbox on images[index]. images: [{name, size, width, height,
 * src (full size), download (href)}]. opener gets the focus back (or
 * fallback() when it was re-rendered meanwhile); onClose() runs when it
 * closes. Returns {close}.
 */
export function openLightbox(images, index = 0, { opener = document.activeElement, fallback, onClose } = {}) {
  document.querySelector('dialog.lightbox')?.close();
  const titleId = `lightbox-title-${++seq}`;
  let i = Math.max(0, Math.min(images.length - 1, index));
  const restore = rememberFocus(opener, fallback);
  const title = h('h2', { id: titleId, class: 'lightbox-title', testid: 'lightbox-title' });
  const counter = h('span', { class: 'lightbox-count', testid: 'lightbox-count' });
  const img = h('img', { class: 'lightbox-img', testid: 'lightbox-img', alt: '' });
  const download = h('a', { class: 'btn btn-small btn-ghost lightbox-download', testid: 'lightbox-download', download: '', target: '_blank', rel: 'noopener noreferrer' }, icon('download'), h('span', { text: 'Download' }));
  const closeBtn = h('button', { type: 'button', class: 'icon-btn lightbox-close', testid: 'lightbox-close', 'aria-label': 'Close image', title: 'Close (Esc)', onClick: () => dlg.close() }, icon('x'));
  const prev = h('button', { type: 'button', class: 'icon-btn lightbox-nav prev', testid: 'lightbox-prev', 'aria-label': 'Previous image', title: 'Previous (←)', onClick: () => show(i - 1) }, icon('back'));
  const next = h('button', { type: 'button', class: 'icon-btn lightbox-nav next', testid: 'lightbox-next', 'aria-label': 'Next image', title: 'Next (→)', onClick: () => show(i + 1) }, icon('forward'));
  const status = h('p', { class: 'visually-hidden', 'aria-live': 'polite', testid: 'lightbox-status' });
  const dlg = h('dialog', { class: 'lightbox', testid: 'lightbox', 'aria-labelledby': titleId },
    h('div', { class: 'lightbox-bar' }, h('div', { class: 'lightbox-titles' }, title, counter), download, closeBtn),
    h('div', { class: 'lightbox-stage' }, prev, h('figure', { class: 'lightbox-figure' }, img), next),
    status);

  function show(j, announce = true) {
    if (j < 0 || j >= images.length) return;
    i = j;
    const im = images[i];
    title.textContent = im.name;
    const n = images.length > 1 ? `${i + 1} of ${images.length}` : '';
    counter.textContent = [n, humanSize(im.size)].filter(Boolean).join(' · ');
    img.alt = im.name;
    if (im.width > 0 && im.height > 0) {
      img.setAttribute('width', String(im.width));
      img.setAttribute('height', String(im.height));
    }
    img.src = im.src;
    download.href = im.download;
    download.setAttribute('aria-label', `Download ${im.name}`);
    prev.hidden = images.length < 2;
    next.hidden = images.length < 2;
    prev.disabled = i === 0;
    next.disabled = i === images.length - 1;
    // A disabled button cannot keep the focus: move it along.
    if ((document.activeElement === prev && prev.disabled) || (document.activeElement === next && next.disabled)) closeBtn.focus();
    if (announce) status.textContent = `${im.name}${n ? `, image ${n}` : ''}`;
  }

  dlg.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowLeft' || e.key === 'ArrowRight') {
      e.preventDefault();
      show(i + (e.key === 'ArrowRight' ? 1 : -1));
    } else if (e.key === 'Home' || e.key === 'End') {
      e.preventDefault();
      show(e.key === 'Home' ? 0 : images.length - 1);
    } else if (e.key === 'Escape') {
      // Handled here (not only by the dialog's cancel) so the room's own
      // Escape handlers under it do not act too.
      e.preventDefault();
      e.stopPropagation();
      dlg.close();
    } else {
      trapTab(dlg, e);
    }
  });
  // A click on the backdrop (the dialog itself, outside its content) closes.
  dlg.addEventListener('click', (e) => {
    if (e.target === dlg || e.target.classList?.contains('lightbox-stage')) dlg.close();
  });
  dlg.addEventListener('close', () => {
    dlg.remove();
    onClose?.();
    restore();
  });
  show(i, false);
  document.body.append(dlg);
  dlg.showModal();
  closeBtn.focus();
  return { close: () => dlg.close(), el: dlg, show };
}
