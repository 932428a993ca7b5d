// The app's URL scheme. Pure: parse a path and query into a route, or build
// a path for one. The Go server answers every such path with index.html.

const TABLE = [
  ['login', /^\/login\/?$/],
  ['register', /^\/register\/?$/],
  ['home', /^\/$/],
  ['room', /^\/rooms\/(\d{1,18})\/?$/, ['id']],
  ['browse', /^\/browse\/?$/],
  ['search', /^\/search\/?$/],
  ['profile', /^\/profile\/?$/],
  ['user', /^\/users\/(\d{1,18})\/?$/, ['id']],
  ['settings', /^\/settings\/?$/],
  ['admin', /^\/admin\/?$/],
  ['threads', /^\/threads\/?$/],
  ['mentions', /^\/mentions\/?$/],
];

/** Routes reachable without a session. */
export const PUBLIC_ROUTES = new Set(['login', 'register']);

/** Parses a pathname and search string into {name, params, query}. */
export function parseRoute(pathname, search = '') {
  const query = Object.fromEntries(new URLSearchParams(search));
  for (const [name, re, keys = []] of TABLE) {
    const m = re.exec(pathname);
    if (m) {
      const params = {};
      keys.forEach((k, i) => {
        params[k] = Number(m[i + 1]);
      });
      return { name, params, query };
    }
  }
  return { name: 'notfound', params: {}, query };
}

/** Builds the path of a route. */
export function pathFor(name, params = {}, query = {}) {
  let p;
  switch (name) {
    case 'room':
      p = `/rooms/${Number(params.id)}`;
      break;
    case 'user':
      p = `/users/${Number(params.id)}`;
      break;
    case 'home':
      p = '/';
      break;
    default:
      p = `/${name}`;
  }
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v != null && v !== '') q.set(k, String(v));
  const qs = q.toString();
  return qs ? `${p}?${qs}` : p;
}

/** Only same-app paths may be used as a post-login redirect. */
export function safeNext(next) {
  if (typeof next !== 'string' || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return '/';
  const r = parseRoute(next.split('?')[0]);
  return r.name === 'notfound' || PUBLIC_ROUTES.has(r.name) ? '/' : next;
}
