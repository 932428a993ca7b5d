// The admin page's usage figures: the messages-per-day chart's geometry
// and the words that describe it. Pure functions, no DOM (tested in
// jstest/usage.test.mjs).

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** "2026-12-05" (a UTC day) as "5 Dec". */
export function dayShort(day) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(String(day ?? ''));
  if (!m) return String(day ?? '');
  return `${Number(m[3])} ${MONTHS[Number(m[2]) - 1] ?? m[2]}`;
}

/** The smallest 1, 2 or 5 × 10ⁿ at or above n (at least 1): the chart's top. */
export function niceCeil(n) {
  if (!(n > 1)) return 1;
  const p = 10 ** Math.floor(Math.log10(n));
  for (const f of [1, 2, 5, 10]) if (f * p >= n) return f * p;
  return 10 * p;
}

/**
 * Bars for days ([{day, count}], oldest first) in a width × height box:
 * one slot per day, gap between bars, heights scaled to niceCeil of the
 * largest count. A day with messages is at least 2 units tall, so that
 * it never looks empty. Returns {top, bars: [{x, y, w, h, day, count}]}.
 */
export function chartBars(days, { width = 300, height = 100, gap = 2 } = {}) {
  const list = Array.isArray(days) ? days : [];
  const top = niceCeil(Math.max(0, ...list.map((d) => Number(d.count) || 0)));
  const slot = list.length ? width / list.length : width;
  const w = Math.max(1, slot - gap);
  const bars = list.map((d, i) => {
    const count = Number(d.count) || 0;
    const h = count > 0 ? Math.max(2, (count / top) * height) : 0;
    return { x: i * slot + (slot - w) / 2, y: height - h, w, h, day: d.day, count };
  });
  return { top, bars };
}

/** One sentence summing the days up for screen readers and the caption. */
export function usageSummary(days) {
  const list = Array.isArray(days) ? days : [];
  if (!list.length) return 'No figures yet.';
  const total = list.reduce((s, d) => s + (Number(d.count) || 0), 0);
  const span = `${list.length} ${list.length === 1 ? 'day' : 'days'}`;
  if (total === 0) return `No messages in the last ${span}.`;
  let busiest = list[0];
  for (const d of list) if ((Number(d.count) || 0) > (Number(busiest.count) || 0)) busiest = d;
  const n = Number(busiest.count);
  return `${total} ${total === 1 ? 'message' : 'messages'} in the last ${span}; the busiest day was ${dayShort(busiest.day)} with ${n} ${n === 1 ? 'message' : 'messages'}.`;
}
