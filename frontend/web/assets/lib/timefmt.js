// Dates and times as the UI shows them, in the viewer's local time zone.
// English labels and a 24-hour clock keep the output stable and testable.

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Parses an RFC 3339 string (or Date or ms) into a Date, or null. */
export function toDate(v) {
  if (v == null || v === '') return null;
  const d = v instanceof Date ? v : new Date(v);
  return Number.isNaN(d.getTime()) ? null : d;
}

const pad = (n) => String(n).padStart(2, '0');

/** "14:05" */
export function clock(d) {
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function startOfDay(d) {
  return new Date(d.getFullYear(), d.getMonth(), d.getDate());
}

/** Whole calendar days from a to b (b later gives a positive number). */
export function dayDiff(a, b) {
  return Math.round((startOfDay(b) - startOfDay(a)) / 86_400_000);
}

/** Whether two dates fall on the same local calendar day. */
export function sameDay(a, b) {
  return dayDiff(a, b) === 0;
}

/** "12 Mar" this year, "12 Mar 2024" otherwise. */
export function shortDate(d, now) {
  const base = `${d.getDate()} ${MONTHS[d.getMonth()]}`;
  return d.getFullYear() === now.getFullYear() ? base : `${base} ${d.getFullYear()}`;
}

/** Day separator in a message list: "Today", "Yesterday", "Monday", "12 Mar". */
export function dayLabel(value, now = new Date()) {
  const d = toDate(value);
  if (!d) return '';
  const diff = dayDiff(d, now);
  if (diff === 0) return 'Today';
  if (diff === 1) return 'Yesterday';
  if (diff > 1 && diff < 7) return DAYS[d.getDay()];
  return `${DAYS[d.getDay()].slice(0, 3)} ${shortDate(d, now)}`;
}

/** Time next to a message: "14:05". */
export function messageTime(value) {
  const d = toDate(value);
  return d ? clock(d) : '';
}

/** Full timestamp for tooltips: "Wed 12 Mar 2025, 14:05". */
export function fullTime(value) {
  const d = toDate(value);
  if (!d) return '';
  return `${DAYS[d.getDay()].slice(0, 3)} ${d.getDate()} ${MONTHS[d.getMonth()]} ${d.getFullYear()}, ${clock(d)}`;
}

/** Compact time for lists: "14:05" today, "Yesterday", "Mon", "12 Mar". */
export function listTime(value, now = new Date()) {
  const d = toDate(value);
  if (!d) return '';
  const diff = dayDiff(d, now);
  if (diff <= 0) return clock(d);
  if (diff === 1) return 'Yesterday';
  if (diff < 7) return DAYS[d.getDay()].slice(0, 3);
  return shortDate(d, now);
}

/** Always a calendar date, even for today: "5 Dec 2026" (for "Joined" columns). */
export function dateOnly(value) {
  const d = toDate(value);
  if (!d) return '';
  return `${d.getDate()} ${MONTHS[d.getMonth()]} ${d.getFullYear()}`;
}

/** "just now", "5 min ago", "3 h ago", "2 days ago", then a date. */
export function relativeTime(value, now = new Date()) {
  const d = toDate(value);
  if (!d) return '';
  const s = Math.round((now - d) / 1000);
  if (s < 45) return 'just now';
  if (s < 3600) return `${Math.max(1, Math.round(s / 60))} min ago`;
  if (s < 86_400) return `${Math.round(s / 3600)} h ago`;
  const days = dayDiff(d, now);
  if (days < 7) return days === 1 ? 'yesterday' : `${days} days ago`;
  return shortDate(d, now);
}

/**
 * Whether message b continues a's group (same author, within 5 minutes,
 * same day), so the view can omit b's name and avatar.
 */
export function continues(a, b) {
  if (!a || !b || a.user_id !== b.user_id) return false;
  // Webhooks' posts (user 0) group by webhook and shown name.
  if ((a.webhook || b.webhook) && (a.webhook?.id !== b.webhook?.id || a.username !== b.username)) return false;
  const da = toDate(a.created_at);
  const db = toDate(b.created_at);
  return !!da && !!db && sameDay(da, db) && db - da >= 0 && db - da < 5 * 60_000;
}
