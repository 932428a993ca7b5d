// Administration: usage figures (chat-service's GET /admin/usage and the
// number of accounts); every public and private room, to archive or delete
// (GET/PATCH/DELETE /admin/rooms); accounts: change roles, disable or
// enable them, sign them out everywhere; bots: create them, disable or
// enable them, make and revoke their tokens (/api/auth/bots).
// Only admins see the link; auth-service and chat-service enforce it either way.

import { h, icon } from '../ui/dom.js';
import { avatar, confirmDialog, emptyState, field, fieldError, spinner, toast, toastError } from '../ui/widgets.js';
import { focusHeading, keepFocus } from '../ui/focus.js';
import { dateOnly, fullTime, relativeTime } from '../lib/timefmt.js';
import { plural } from '../lib/format.js';
import { chartBars, dayShort, usageSummary } from '../lib/usage.js';
import { viewHeader } from './shell.js';
import { tokensCard } from './tokens.js';
import { botTag } from '../ui/bottag.js';

const SVG_NS = 'http://www.w3.org/2000/svg';

// An SVG element with attributes (setAttribute only, as h does).
function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  el.append(...children);
  return el;
}

let chartSeq = 0;

/**
 * The messages-per-day bar chart: an SVG image named by its title and
 * described by a one-sentence summary, with a visually hidden table of
 * every day for screen readers. Built with DOM calls only.
 */
function usageChart(days) {
  const id = `usage-chart-${++chartSeq}`;
  const W = 600;
  const H = 120;
  const { top, bars } = chartBars(days, { width: W, height: H, gap: 3 });
  const summary = usageSummary(days);
  const image = svg('svg', {
    viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', class: 'usage-chart', role: 'img',
    'aria-labelledby': `${id}-title ${id}-desc`, 'data-testid': 'usage-chart', 'data-top': top,
  },
  svg('title', { id: `${id}-title` }, `Messages per day, last ${days.length} days`),
  svg('desc', { id: `${id}-desc` }, summary),
  svg('line', { x1: 0, x2: W, y1: H - 0.5, y2: H - 0.5, class: 'usage-axis' }),
  ...bars.map((b) => svg('rect', {
    x: b.x.toFixed(2), y: b.y.toFixed(2), width: b.w.toFixed(2), height: b.h.toFixed(2), rx: 2,
    class: 'usage-bar', 'data-day': b.day, 'data-count': b.count,
  }, svg('title', {}, `${dayShort(b.day)}: ${plural(b.count, 'message')}`))));
  const first = days[0]?.day;
  return h('figure', { class: 'usage-figure', testid: 'usage-figure' },
    h('div', { class: 'usage-plot' },
      h('div', { class: 'usage-scale', 'aria-hidden': 'true' }, h('span', { text: String(top) }), h('span', { text: '0' })),
      image,
      h('span', {}),
      h('div', { class: 'usage-days', 'aria-hidden': 'true' }, h('span', { text: first ? dayShort(first) : '' }), h('span', { text: 'Today' }))),
    h('figcaption', { class: 'muted small', testid: 'usage-summary', text: `${summary} Days are UTC.` }),
    h('table', { class: 'visually-hidden', testid: 'usage-table' },
      h('caption', { text: 'Messages per day (UTC)' }),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: 'Day' }), h('th', { scope: 'col', text: 'Messages' }))),
      h('tbody', {}, days.map((d) => h('tr', {}, h('th', { scope: 'row', text: d.day }), h('td', { text: String(d.count) }))))));
}

export function adminView(ctx) {
  const { api } = ctx;
  if (api.user?.role !== 'admin') {
    return { el: h('section', { class: 'page', testid: 'admin-forbidden' }, viewHeader(ctx, [h('h1', { text: 'Admin' })]), h('div', { class: 'page-body' }, emptyState('shield', 'Administrators only.', 'You do not have access to this page.'))) };
  }
  const filter = h('input', { type: 'search', placeholder: 'Filter by username prefix', 'aria-label': 'Filter users', testid: 'admin-filter' });
  const tbody = h('tbody', {});
  const more = h('button', { type: 'button', class: 'btn btn-ghost', hidden: true, testid: 'admin-more', onClick: () => load(false) }, 'Load more');
  const status = h('div', { class: 'muted small', 'aria-live': 'polite' });
  const table = h('table', { class: 'table', testid: 'admin-users', 'aria-label': 'Users' },
    h('thead', {}, h('tr', {}, h('th', { text: 'User' }), h('th', { text: 'Email' }), h('th', { text: 'Role' }), h('th', { text: 'Status' }), h('th', { text: 'Joined' }))),
    tbody);
  const usageBody = h('div', { class: 'stack', testid: 'admin-usage' }, spinner('Loading usage'));
  const roomsHeading = h('h2', { id: 'admin-rooms-heading', text: 'Rooms' });
  const roomsBody = h('tbody', {});
  const roomsMore = h('button', { type: 'button', class: 'btn btn-ghost', hidden: true, testid: 'admin-rooms-more', onClick: () => loadRooms(false) }, 'Load more rooms');
  const roomsStatus = h('div', { class: 'muted small', 'aria-live': 'polite', testid: 'admin-rooms-status' });
  const roomsTable = h('table', { class: 'table', testid: 'admin-rooms', 'aria-labelledby': 'admin-rooms-heading' },
    h('thead', {}, h('tr', {}, ['Room', 'Kind', 'Members', 'Messages', 'Last activity', 'State', 'Actions'].map((t) => h('th', { scope: 'col', text: t })))),
    roomsBody);
  const el = h('section', { class: 'page', testid: 'admin-view' },
    viewHeader(ctx, [h('h1', {}, icon('shield'), ' Admin')]),
    h('div', { class: 'page-body' },
      h('section', { class: 'admin-section', 'aria-labelledby': 'admin-usage-heading' },
        h('h2', { id: 'admin-usage-heading', text: 'Usage' }), usageBody),
      h('section', { class: 'admin-section', 'aria-labelledby': 'admin-rooms-heading' },
        h('div', { class: 'toolbar' }, roomsHeading, roomsStatus),
        h('div', { class: 'table-wrap' }, roomsTable), roomsMore),
      botsSection(ctx),
      h('section', { class: 'admin-section', 'aria-labelledby': 'admin-users-heading' },
        h('h2', { id: 'admin-users-heading', text: 'Users' }),
        h('div', { class: 'toolbar' }, filter, status),
        h('div', { class: 'table-wrap' }, table), more)));

  let cursor = null;
  let seq = 0;

  function row(u) {
    const self = u.id === api.user?.id;
    const role = h('select', { 'aria-label': `Role of ${u.username}`, testid: 'admin-role', disabled: self, dataset: { userId: u.id, focusKey: `role-${u.id}` } },
      h('option', { value: 'user', selected: u.role === 'user', text: 'User' }), h('option', { value: 'admin', selected: u.role === 'admin', text: 'Admin' }));
    role.addEventListener('change', async () => {
      try {
        const nu = await api.patch(`/api/auth/users/${u.id}`, { role: role.value });
        toast(`${u.username} is now ${nu.role === 'admin' ? 'an admin' : 'a user'}.`);
        keepFocus(tbody, () => tr.replaceWith(row(nu)));
      } catch (err) {
        toastError(err);
        role.value = u.role;
      }
    });
    const toggle = h('button', {
      type: 'button', class: ['btn', 'btn-small', u.disabled ? 'btn-ghost' : 'btn-danger-ghost'], testid: 'admin-disable', disabled: self, dataset: { userId: u.id, focusKey: `toggle-${u.id}` },
      // Three rows, three "Disable" buttons: the name says whose.
      'aria-label': `${u.disabled ? 'Enable' : 'Disable'} ${u.username}`,
      onClick: async () => {
        if (!u.disabled && !(await confirmDialog(`Disable ${u.username}?`, 'They are signed out everywhere and cannot sign in until enabled again.', 'Disable', true))) return;
        try {
          const nu = await api.patch(`/api/auth/users/${u.id}`, { disabled: !u.disabled });
          toast(`${u.username} is ${nu.disabled ? 'disabled' : 'enabled'}.`);
          keepFocus(tbody, () => tr.replaceWith(row(nu)));
        } catch (err) {
          toastError(err);
        }
      },
    }, u.disabled ? 'Enable' : 'Disable');
    // Ends every session of the account (a lost laptop, a shared
    // computer): its tokens stop working everywhere within seconds.
    const signOut = h('button', {
      type: 'button', class: 'btn btn-small btn-ghost', testid: 'admin-signout', disabled: u.disabled, dataset: { userId: u.id, focusKey: `signout-${u.id}` },
      'aria-label': `Sign ${u.username} out everywhere`,
      onClick: async () => {
        if (!(await confirmDialog(`Sign ${u.username} out everywhere?`, self ? 'This ends every session, this one too.' : 'Every device they are signed in on is signed out. They can sign in again.', 'Sign out everywhere', true))) return;
        try {
          const r = await api.post(`/api/auth/users/${u.id}/sessions/revoke-all`);
          toast(`${u.username} was signed out of ${r.sessions_revoked} ${r.sessions_revoked === 1 ? 'session' : 'sessions'}.`);
          if (self) ctx.logout();
        } catch (err) {
          toastError(err);
        }
      },
    }, 'Sign out everywhere');
    const tr = h('tr', { testid: 'admin-user', dataset: { userId: u.id, username: u.username }, class: u.disabled ? 'row-disabled' : null },
      h('td', {}, h('a', { href: `/users/${u.id}`, class: 'user-cell' }, avatar(ctx, u.id, u.username, 'sm'), h('span', {}, h('strong', { text: u.username }), botTag(u), self ? h('span', { class: 'muted', text: ' (you)' }) : null))),
      h('td', { class: 'muted', text: u.email || '—' }),
      h('td', {}, role),
      h('td', {}, h('span', { class: ['pill', u.disabled ? 'pill-off' : 'pill-on'], text: u.disabled ? 'Disabled' : 'Active' }), ' ', toggle, ' ', signOut),
      h('td', { class: 'muted', title: fullTime(u.created_at), text: dateOnly(u.created_at) }));
    return tr;
  }

  async function load(reset) {
    const mine = ++seq;
    if (reset) {
      cursor = null;
      tbody.replaceChildren(h('tr', {}, h('td', { colspan: 5 }, spinner())));
    }
    try {
      const page = await api.get('/api/auth/users', { limit: 50, cursor, q: filter.value.trim().toLowerCase() || undefined });
      if (mine !== seq) return;
      if (reset) tbody.replaceChildren();
      for (const u of page.users ?? []) tbody.append(row(u));
      cursor = page.next_cursor ?? null;
      more.hidden = cursor == null;
      status.textContent = `${tbody.children.length} user${tbody.children.length === 1 ? '' : 's'} shown`;
      if (tbody.children.length === 0) tbody.append(h('tr', {}, h('td', { colspan: 5, class: 'muted', text: 'No users match.' })));
    } catch (err) {
      if (mine === seq) tbody.replaceChildren(h('tr', {}, h('td', { colspan: 5, class: 'muted', text: err.message })));
    }
  }
  let t = 0;
  filter.addEventListener('input', () => {
    clearTimeout(t);
    t = setTimeout(() => load(true), 200);
  });

  // ---- usage ----------------------------------------------------------------

  // Every account, counted by paging auth-service's list (at most 50 pages
  // of 200; more shows as "10000+").
  async function countUsers() {
    let n = 0;
    let after = null;
    for (let page = 0; page < 50; page++) {
      const res = await api.get('/api/auth/users', { limit: 200, cursor: after });
      n += (res.users ?? []).length;
      after = res.next_cursor ?? null;
      if (after == null) return String(n);
    }
    return `${n}+`;
  }

  const figure = (label, value, testid) => h('div', { class: 'stat', testid }, h('span', { class: 'stat-value', text: String(value) }), h('span', { class: 'stat-label', text: label }));

  async function loadUsage() {
    const [users, usage] = await Promise.allSettled([countUsers(), api.get('/api/chat/admin/usage')]);
    const u = usage.status === 'fulfilled' ? usage.value : null;
    usageBody.replaceChildren(
      h('div', { class: 'stats' },
        figure('Users', users.status === 'fulfilled' ? users.value : '—', 'usage-users'),
        figure('Active today', u ? u.active_today : '—', 'usage-active'),
        figure('Messages today', u ? u.messages_today : '—', 'usage-messages')),
      u ? usageChart(u.messages_per_day ?? []) : h('p', { class: 'muted', text: `Usage figures are unavailable: ${usage.reason?.message ?? 'unknown error'}` }),
      h('p', { class: 'muted small', text: 'Active: sent a message or opened the app since 00:00 UTC.' }));
  }

  // ---- rooms ----------------------------------------------------------------

  let roomsCursor = null;
  let roomsSeq = 0;

  function roomsShown() {
    const n = roomsBody.querySelectorAll('[data-testid=admin-room]').length;
    roomsStatus.textContent = `${plural(n, 'room')} shown`;
    if (n === 0 && !roomsBody.children.length) roomsBody.append(h('tr', {}, h('td', { colspan: 7, class: 'muted', text: 'No rooms.' })));
  }

  function roomRow(r) {
    const fixed = r.is_default;
    const archive = h('button', {
      type: 'button', class: 'btn btn-small btn-ghost', testid: 'admin-room-archive', disabled: fixed,
      dataset: { roomId: r.id, focusKey: `archive-${r.id}` },
      'aria-label': `${r.archived ? 'Unarchive' : 'Archive'} ${r.name}`,
      title: fixed ? 'The default room cannot be archived' : null,
      onClick: async () => {
        if (!r.archived && !(await confirmDialog(`Archive ${r.name}?`, 'Its members can still read it, but nobody can post, react or join until it is unarchived.', 'Archive'))) return;
        try {
          const nr = await api.patch(`/api/chat/admin/rooms/${r.id}`, { archived: !r.archived });
          toast(`${nr.name} is ${nr.archived ? 'archived' : 'no longer archived'}.`);
          keepFocus(roomsBody, () => tr.replaceWith(roomRow(nr)));
        } catch (err) {
          toastError(err);
        }
      },
    }, r.archived ? 'Unarchive' : 'Archive');
    const del = h('button', {
      type: 'button', class: 'btn btn-small btn-danger-ghost', testid: 'admin-room-delete', disabled: fixed,
      dataset: { roomId: r.id, focusKey: `delete-${r.id}` },
      'aria-label': `Delete ${r.name}`,
      title: fixed ? 'The default room cannot be deleted' : null,
      onClick: async () => {
        const ok = await confirmDialog(`Delete ${r.name}?`,
          `Its ${plural(r.message_count, 'message')} and ${plural(r.member_count, 'membership')} are deleted for everyone. This cannot be undone.`,
          'Delete room', true, { fallback: () => roomsHeading });
        if (!ok) return;
        try {
          await api.del(`/api/chat/admin/rooms/${r.id}`);
          toast(`${r.name} was deleted.`);
          keepFocus(roomsBody, () => tr.remove(), () => roomsHeading);
          if (!tr.isConnected && document.activeElement === document.body) focusHeading(roomsHeading);
          roomsShown();
        } catch (err) {
          toastError(err);
        }
      },
    }, 'Delete');
    const last = r.last_message_at;
    const tr = h('tr', { testid: 'admin-room', dataset: { roomId: r.id, roomName: r.name, archived: r.archived ? 'true' : 'false', members: r.member_count } },
      h('th', { scope: 'row', class: 'room-cell' }, icon(r.kind === 'private' ? 'lock' : 'hash'), ' ', h('span', { text: r.name }),
        fixed ? h('span', { class: 'muted', text: ' (default)' }) : null),
      h('td', { text: r.kind === 'private' ? 'Private' : 'Public' }),
      h('td', { class: 'num', testid: 'admin-room-members', text: String(r.member_count) }),
      h('td', { class: 'num', text: String(r.message_count) }),
      h('td', { class: 'muted', title: last ? fullTime(last) : null, text: last ? relativeTime(last) : 'No messages' }),
      h('td', {}, h('span', { class: ['pill', r.archived ? 'pill-off' : 'pill-on'], testid: 'admin-room-state', text: r.archived ? 'Archived' : 'Active' })),
      h('td', { class: 'row-actions' }, archive, ' ', del));
    return tr;
  }

  async function loadRooms(reset) {
    const mine = ++roomsSeq;
    if (reset) {
      roomsCursor = null;
      roomsBody.replaceChildren(h('tr', {}, h('td', { colspan: 7 }, spinner())));
    }
    try {
      const page = await api.get('/api/chat/admin/rooms', { limit: 100, cursor: roomsCursor });
      if (mine !== roomsSeq) return;
      if (reset) roomsBody.replaceChildren();
      for (const r of page.rooms ?? []) roomsBody.append(roomRow(r));
      roomsCursor = page.next_cursor ?? null;
      roomsMore.hidden = roomsCursor == null;
      roomsShown();
    } catch (err) {
      if (mine === roomsSeq) roomsBody.replaceChildren(h('tr', {}, h('td', { colspan: 7, class: 'muted', text: err.message })));
    }
  }

  load(true);
  loadRooms(true);
  loadUsage();
  return { el };
}

/**
 * The Bots section: accounts for programs, with no password. A bot acts
 * through the tokens made for it here; disabling it refuses them at once.
 */
function botsSection(ctx) {
  const { api } = ctx;
  const username = h('input', { type: 'text', autocomplete: 'off', maxlength: 32, testid: 'bot-username', required: true });
  const display = h('input', { type: 'text', autocomplete: 'off', maxlength: 64, testid: 'bot-display-name' });
  const error = h('div', { class: 'form-error', role: 'alert', testid: 'bot-error', hidden: true });
  const list = h('ul', { class: 'bot-list', testid: 'admin-bots', 'aria-labelledby': 'admin-bots-heading' });
  const status = h('p', { class: 'muted small', 'aria-live': 'polite', testid: 'admin-bots-status' });

  function shown() {
    const n = list.childElementCount;
    status.textContent = n === 0 ? 'No bots yet.' : plural(n, 'bot') + '.';
  }

  function botItem(b) {
    const name = b.display_name || b.username;
    const state = h('span', { class: ['pill', b.disabled ? 'pill-off' : 'pill-on'], testid: 'bot-state', text: b.disabled ? 'Disabled' : 'Active' });
    const toggle = h('button', {
      type: 'button', class: 'btn btn-ghost', testid: 'bot-toggle', 'aria-label': `${b.disabled ? 'Enable' : 'Disable'} ${b.username}`,
      onClick: async () => {
        if (!b.disabled && !(await confirmDialog(`Disable ${b.username}?`, 'Its tokens are refused everywhere within seconds and its connections are closed. Enabling it again makes them work again.', 'Disable bot', true))) return;
        try {
          const nb = await api.patch(`/api/auth/users/${b.id}`, { disabled: !b.disabled });
          Object.assign(b, nb);
          state.className = `pill ${b.disabled ? 'pill-off' : 'pill-on'}`;
          state.textContent = b.disabled ? 'Disabled' : 'Active';
          toggle.textContent = b.disabled ? 'Enable' : 'Disable';
          toggle.setAttribute('aria-label', `${b.disabled ? 'Enable' : 'Disable'} ${b.username}`);
          toast(`${b.username} was ${b.disabled ? 'disabled' : 'enabled'}.`);
        } catch (err) {
          toastError(err);
        }
      },
    }, b.disabled ? 'Enable' : 'Disable');
    const tokens = h('details', { class: 'bot-tokens', testid: 'bot-tokens' }, h('summary', { text: `Tokens of ${b.username}` }));
    tokens.addEventListener('toggle', () => {
      if (tokens.open && tokens.childElementCount === 1) {
        tokens.append(tokensCard(ctx, { base: `/api/auth/bots/${b.id}/tokens`, heading: `Tokens of ${b.username}`, headingLevel: 'h3', testid: 'bot-tokens-card' }));
      }
    });
    return h('li', { class: 'bot-item card', testid: 'admin-bot', dataset: { botId: b.id, username: b.username } },
      h('div', { class: 'bot-head' },
        avatar(ctx, b.id, name, 'md'),
        h('div', { class: 'bot-names' },
          h('strong', { text: name }), ' ', botTag(b),
          h('div', { class: 'muted small', text: `@${b.username} · created ${dateOnly(b.created_at)}` })),
        state, toggle),
      tokens);
  }

  async function load() {
    try {
      const res = await api.get('/api/auth/bots');
      list.replaceChildren(...(res.bots ?? []).map(botItem));
      shown();
    } catch (err) {
      status.textContent = err.message;
    }
  }

  const form = h('form', {
    class: 'bot-form', novalidate: true, testid: 'bot-form',
    onSubmit: async (e) => {
      e.preventDefault();
      error.hidden = true;
      fieldError(username, '');
      try {
        const b = await api.post('/api/auth/bots', { username: username.value.trim(), display_name: display.value.trim() });
        username.value = display.value = '';
        const item = botItem(b);
        list.append(item);
        shown();
        toast(`Bot ${b.username} created. Make it a token below.`);
        const det = item.querySelector('details');
        det.open = true;
        det.querySelector('summary').focus();
      } catch (err) {
        const msg = err.code === 'username_taken' ? 'That username is taken.'
          : err.code === 'invalid_username' || err.code === 'username_required' ? 'A username is 3 to 32 letters, digits, “_”, “.” or “-”.'
            : err.message;
        error.textContent = msg;
        error.hidden = false;
        if (err.code?.startsWith('username') || err.code === 'invalid_username') fieldError(username, msg);
        username.focus();
      }
    },
  },
  h('div', { class: 'token-form-fields' },
    field('Bot username', username, '3–32 letters, digits, “_”, “.” or “-”.'),
    field('Display name', display, 'Optional; shown on its messages.')),
  error,
  h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary', testid: 'bot-create' }, icon('plus'), 'Create bot')));

  load();
  return h('section', { class: 'admin-section', 'aria-labelledby': 'admin-bots-heading', testid: 'admin-bots-section' },
    h('h2', { id: 'admin-bots-heading', text: 'Bots' }),
    h('p', { class: 'muted', text: 'Bots are accounts for programs: they have no password and act only with the tokens made for them here. Their messages carry a BOT tag.' }),
    form, status, list);
}
