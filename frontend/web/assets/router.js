// History-API routing: same-origin <a href> clicks become pushState, the
// back button works, and every change calls onChange(route).

import { parseRoute } from './lib/routes.js';

/** Starts routing; returns {go, current, replace}. */
export function createRouter(onChange) {
  let current = parseRoute(location.pathname, location.search);

  function emit() {
    current = parseRoute(location.pathname, location.search);
    onChange(current);
  }

  function go(path, { replace = false } = {}) {
    const url = new URL(path, location.origin);
    if (url.origin !== location.origin) return;
    const target = url.pathname + url.search;
    if (target === location.pathname + location.search && !replace) {
      emit();
      return;
    }
    if (replace) history.replaceState(null, '', target);
    else history.pushState(null, '', target);
    emit();
  }

  window.addEventListener('popstate', emit);
  document.addEventListener('click', (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const a = e.target.closest?.('a[href]');
    if (!a || a.target === '_blank' || a.hasAttribute('download')) return;
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin) return;
    e.preventDefault();
    go(url.pathname + url.search);
  });

  return {
    go,
    get current() {
      return current;
    },
    start: emit,
  };
}
