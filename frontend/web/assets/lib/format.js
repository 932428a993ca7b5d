// Small text helpers shared by the views.

/** Up to two initials for an avatar placeholder. */
export function initials(name) {
  const words = String(name ?? '').trim().split(/[\s._-]+/).filter(Boolean);
  if (words.length === 0) return '?';
  const first = [...words[0]][0] ?? '';
  const second = words.length > 1 ? [...words[1]][0] ?? '' : [...words[0]][1] ?? '';
  return (first + second).toUpperCase();
}

/** A stable palette slot (0–7) for a user id or name. */
export function colorSlot(key) {
  const s = String(key ?? '');
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) >>> 0;
  return h % 8;
}

/** The name to show for a user: the profile's display name, else username. */
export function displayName(profile, fallback = '') {
  const dn = profile?.display_name?.trim();
  return dn || profile?.username || fallback || 'unknown';
}

/** "alice is typing…", "alice and bob are typing…", "alice, bob and 2 others are typing…". */
export function typingText(names) {
  const n = names.length;
  if (n === 0) return '';
  if (n === 1) return `${names[0]} is typing…`;
  if (n === 2) return `${names[0]} and ${names[1]} are typing…`;
  if (n === 3) return `${names[0]}, ${names[1]} and ${names[2]} are typing…`;
  return `${names[0]}, ${names[1]} and ${n - 2} others are typing…`;
}

/** "1 member", "3 members". */
export function plural(n, word, many = word + 's') {
  return `${n} ${n === 1 ? word : many}`;
}

/** Whether text is empty once whitespace is ignored (the servers' rule). */
export function isBlank(text) {
  return String(text ?? '').trim() === '';
}

/** One line of a message for previews, collapsed and cut to max chars. */
export function preview(text, max = 80) {
  const s = String(text ?? '').replace(/\s+/g, ' ').trim();
  return s.length > max ? s.slice(0, max - 1) + '…' : s;
}

/** Whether text mentions @username (not inside a longer name or an e-mail address). */
export function mentionsUser(text, username) {
  const name = String(username ?? '').replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  if (!name) return false;
  return new RegExp(`(^|[^\\w@])@${name}(?![\\w.-])`, 'i').test(String(text ?? ''));
}

/** The document title: the view's name, Parley, and the unread count first. */
export function documentTitle(view, unread = 0) {
  const n = Number(unread) || 0;
  return `${n > 0 ? `(${n > 99 ? '99+' : n}) ` : ''}${view ? `${view} · ` : ''}Parley`;
}
