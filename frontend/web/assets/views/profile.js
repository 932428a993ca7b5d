// Profiles: one's own (editable, with avatar upload) and other people's
// (with a button to message them). Both show activity stats.

import { h, icon } from '../ui/dom.js';
import { avatar, emptyState, field, spinner, toast, toastError } from '../ui/widgets.js';
import { displayName } from '../lib/format.js';
import { botTag } from '../ui/bottag.js';
import { relativeTime, fullTime } from '../lib/timefmt.js';
import { keepFocus } from '../ui/focus.js';
import { viewHeader } from './shell.js';

const MAX_AVATAR = 1 << 20;
const AVATAR_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'];

function statsBlock(stats) {
  if (!stats) return null;
  const item = (label, value, testid) => h('div', { class: 'stat', testid }, h('span', { class: 'stat-value', text: String(value) }), h('span', { class: 'stat-label', text: label }));
  return h('div', { class: 'stats-wrap' },
    h('div', { class: 'stats' },
      item('Messages sent', stats.messages_sent ?? 0, 'stat-messages'),
      item('Rooms created', stats.rooms_created ?? 0, 'stat-created'),
      item('Rooms joined', stats.rooms_joined ?? 0, 'stat-joined'),
      item('Last active', stats.last_active_at ? relativeTime(stats.last_active_at) : '—', 'stat-active')),
    stats.degraded ? h('p', { class: 'muted small', testid: 'stats-degraded' }, icon('alert'), ' Activity figures are unavailable right now (chat service down).') : null);
}

function profileCard(ctx, p, extra) {
  const name = displayName(p);
  return h('div', { class: 'profile-card' },
    h('div', { class: 'profile-banner' }),
    h('div', { class: 'profile-head' },
      avatar(ctx, p.id, name, 'xl'),
      h('div', { class: 'profile-names' },
        h('h2', { class: 'profile-name', testid: 'profile-name' }, name, botTag(p)),
        h('p', { class: 'muted', text: `@${p.username}` }),
        p.status_text ? h('p', { class: 'profile-status', testid: 'profile-status-text', text: p.status_text }) : null),
      extra),
    p.bio ? h('p', { class: 'profile-bio', testid: 'profile-bio-text', text: p.bio }) : null,
    h('p', { class: 'muted small', title: fullTime(p.created_at), text: `Member since ${new Date(p.created_at).toLocaleDateString(undefined, { year: 'numeric', month: 'long' })}` }));
}

/** The signed-in user's own profile, editable. */
export function myProfileView(ctx) {
  const { api, profiles } = ctx;
  const body = h('div', { class: 'page-body narrow' }, spinner());
  const el = h('section', { class: 'page', testid: 'profile-view' }, viewHeader(ctx, [h('h1', { text: 'Your profile' })]), body);

  async function load() {
    try {
      const [p, stats] = await Promise.all([
        api.get('/api/users/profiles/me'),
        api.get(`/api/users/stats/${api.user.id}`).catch(() => null),
      ]);
      profiles.put(p);
      render(p, stats);
    } catch (err) {
      body.replaceChildren(emptyState('alert', 'Could not load your profile.', err.message));
    }
  }

  function render(p, stats) {
    const dn = h('input', { value: p.display_name ?? '', maxlength: 64, testid: 'profile-display-name', placeholder: p.username });
    const status = h('input', { value: p.status_text ?? '', maxlength: 100, testid: 'profile-status', placeholder: 'What are you up to?' });
    const bio = h('textarea', { rows: 4, maxlength: 500, testid: 'profile-bio', placeholder: 'A few words about you' });
    bio.value = p.bio ?? '';
    // Reached through the visible "Change avatar" button, never by Tab (an
    // invisible Tab stop would show no focus).
    const fileInput = h('input', { type: 'file', accept: AVATAR_TYPES.join(','), class: 'visually-hidden', testid: 'avatar-input', 'aria-label': 'Choose a new avatar', tabindex: '-1', 'aria-hidden': 'true' });
    const save = h('button', { type: 'submit', class: 'btn btn-primary', testid: 'profile-save' }, 'Save changes');
    const upload = h('button', { type: 'button', class: 'btn btn-ghost btn-small', testid: 'avatar-upload', onClick: () => fileInput.click() }, icon('camera'), 'Change avatar');
    fileInput.addEventListener('change', async () => {
      const f = fileInput.files?.[0];
      if (!f) return;
      if (!AVATAR_TYPES.includes(f.type)) return toast('Pick a PNG, JPEG, GIF or WebP image.', 'error');
      if (f.size > MAX_AVATAR) return toast('Avatars can be at most 1 MiB.', 'error');
      const fd = new FormData();
      fd.append('avatar', f);
      upload.disabled = true;
      try {
        const np = await api.put(`/api/users/profiles/${api.user.id}/avatar`, fd);
        profiles.put(np?.id ? np : { ...p, avatar_url: null });
        toast('Avatar updated.');
        render(np?.id ? np : p, stats);
      } catch (err) {
        toastError(err);
      } finally {
        upload.disabled = false;
        fileInput.value = '';
      }
    });
    const form = h('form', {
      class: 'stack card',
      onSubmit: async (e) => {
        e.preventDefault();
        save.disabled = true;
        try {
          const np = await api.put(`/api/users/profiles/${api.user.id}`, { display_name: dn.value, status_text: status.value, bio: bio.value });
          profiles.put(np);
          toast('Profile saved.');
          render(np, stats);
        } catch (err) {
          toastError(err);
          save.disabled = false;
        }
      },
    },
    h('h2', { text: 'Edit profile' }),
    field('Display name', dn, 'Shown instead of your username.'),
    field('Status', status),
    field('About', bio),
    h('div', { class: 'form-actions' }, save));
    keepFocus(body, () => body.replaceChildren(profileCard(ctx, p, h('div', { class: 'profile-actions' }, upload, fileInput)), statsBlock(stats), form));
  }
  load();
  return { el };
}

/** Someone else's profile. */
export function userProfileView(ctx, userId) {
  const { api, profiles, chat } = ctx;
  const body = h('div', { class: 'page-body narrow' }, spinner());
  const el = h('section', { class: 'page', testid: 'user-view' }, viewHeader(ctx, [h('h1', { text: 'Profile' })]), body);
  (async () => {
    try {
      const [p, stats] = await Promise.all([
        profiles.fetch(userId),
        api.get(`/api/users/stats/${userId}`).catch(() => null),
      ]);
      const dm = h('button', {
        type: 'button', class: 'btn btn-primary', testid: 'profile-message',
        onClick: async () => {
          try {
            const room = await chat.openDM(userId, p.username);
            ctx.router.go(`/rooms/${room.id}`);
          } catch (err) {
            toastError(err);
          }
        },
      }, icon('message'), `Message ${displayName(p)}`);
      body.replaceChildren(profileCard(ctx, p, Number(userId) === api.user?.id ? null : h('div', { class: 'profile-actions' }, dm)), statsBlock(stats));
    } catch (err) {
      body.replaceChildren(emptyState('user', err.status === 404 ? 'No such user.' : 'Could not load this profile.', err.status === 404 ? '' : err.message));
    }
  })();
  return { el };
}
