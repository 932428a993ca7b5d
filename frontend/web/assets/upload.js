// Uploading one file to a room: POST /api/chat/rooms/:id/files as
// multipart (field "file") through XMLHttpRequest, because fetch reports no
// upload progress. The access token is sent as every API call sends it, and
// renewed once on a 401 as Api.request does; errors come back as ApiError
// with the server's code, aborting as code 'aborted'.

import { ApiError } from './api.js';
import { expiresSoon } from './lib/jwt.js';

/**
 * Starts an upload. Returns {promise, abort}: promise resolves with the
 * server's file object, or rejects with an ApiError. onProgress(loaded,
 * total) reports bytes sent.
 */
export function uploadFile(api, roomId, file, { onProgress, XHR = globalThis.XMLHttpRequest, FormDataCtor = globalThis.FormData } = {}) {
  let xhr = null;
  let aborted = false;
  const path = `/api/chat/rooms/${Number(roomId)}/files`;

  const once = () => new Promise((resolve, reject) => {
    if (aborted) {
      reject(new ApiError(0, 'aborted', 'Upload cancelled.'));
      return;
    }
    const req = new XHR();
    xhr = req;
    req.open('POST', api.baseUrl + path);
    req.responseType = 'text';
    req.setRequestHeader('Accept', 'application/json');
    if (api.token) req.setRequestHeader('Authorization', `Bearer ${api.token}`);
    if (req.upload && onProgress) {
      req.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
    }
    req.onload = () => resolve({ status: req.status, text: req.responseText, retryAfter: Number(req.getResponseHeader?.('Retry-After')) || 0 });
    req.onerror = () => reject(new ApiError(0, 'network_error', 'Cannot reach the server. Check your connection.'));
    req.onabort = () => reject(new ApiError(0, 'aborted', 'Upload cancelled.'));
    req.ontimeout = () => reject(new ApiError(0, 'network_error', 'The upload timed out.'));
    const form = new FormDataCtor();
    form.append('file', file, file.name);
    req.send(form);
  });

  const run = async () => {
    if (api.token && expiresSoon(api.token, api.now()) && api.hasStoredSession()) await api.refresh().catch(() => {});
    let res = await once();
    if (res.status === 401 && api.hasStoredSession()) {
      try {
        await api.refresh();
      } catch (err) {
        throw err instanceof ApiError ? err : new ApiError(401, 'unauthenticated', 'Please sign in again.');
      }
      res = await once();
    }
    return parse(res);
  };

  return {
    promise: run(),
    abort() {
      aborted = true;
      xhr?.abort();
    },
  };
}

function parse({ status, text, retryAfter }) {
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    // not JSON (a proxy's error page)
  }
  if (status >= 200 && status < 300) {
    if (!data || data.id == null) throw new ApiError(502, 'bad_response', 'The server answered the upload without a file.');
    return data;
  }
  const code = data?.error?.code || (status === 413 ? 'file_too_large' : `http_${status}`);
  const message = data?.error?.message || (status === 413 ? 'This file is too large.' : `Upload failed (${status}).`);
  throw new ApiError(status, code, message, retryAfter);
}
