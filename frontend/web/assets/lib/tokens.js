// Pure helpers for personal access tokens in the SPA (settings page and the
// admin page's bots): what a token's expiry says, and which lifetimes the
// form offers. The server accepts 1 to 365 days.

/** The lifetimes offered, in days; the first is the default. */
export const TOKEN_LIFETIMES = [
  { days: 30, label: '30 days' },
  { days: 7, label: '7 days' },
  { days: 90, label: '90 days' },
  { days: 365, label: '1 year' },
];

const DAY_MS = 86_400_000;

/**
 * A token's expiry in words and whether it has passed, counting started
 * days (a 7-day token made a minute ago expires in 7 days):
 * {expired, text} — "Expired", "Expires within a day", "Expires in 12 days".
 */
export function tokenExpiry(expiresAt, now = new Date()) {
  const t = new Date(expiresAt).getTime();
  if (!Number.isFinite(t)) return { expired: false, text: '' };
  const left = t - now.getTime();
  if (left <= 0) return { expired: true, text: 'Expired' };
  const days = Math.ceil(left / DAY_MS);
  if (days <= 1) return { expired: false, text: 'Expires within a day' };
  return { expired: false, text: `Expires in ${days} days` };
}

/** The errors of the token form said as the form names its fields. */
export function tokenFormError(code, message) {
  switch (code) {
    case 'name_required': return 'Give the token a name, such as the program that will use it.';
    case 'invalid_name': return 'The name can be at most 64 characters, without control or invisible characters.';
    case 'invalid_expiry': return 'Choose a lifetime between 1 day and 1 year.';
    case 'too_many_tokens': return 'This account has the most tokens allowed (50). Revoke one first.';
    default: return message || 'The token could not be created.';
  }
}
