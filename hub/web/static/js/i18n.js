// The UI's translations (served from the gettext catalog) and locale-aware formatting.

let catalog = {};
export const locale = document.querySelector('meta[name="locale"]')?.content || 'en';
const tag = locale.replace('_', '-');

export async function loadCatalog() {
  try {
    const response = await fetch(`/i18n/${locale}.json`, { credentials: 'same-origin' });
    if (response.ok) catalog = await response.json();
  } catch {
    // English source strings are a usable fallback.
  }
}

/** Translate ``msgid``; ``{name}`` placeholders are filled from ``params``. */
export function _(msgid, params) {
  const text = catalog[msgid] || msgid;
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (whole, key) => (key in params ? String(params[key]) : whole));
}

const timeFormat = new Intl.DateTimeFormat(tag, { hour: '2-digit', minute: '2-digit' });
const dateTimeFormat = new Intl.DateTimeFormat(tag, { dateStyle: 'medium', timeStyle: 'short' });
const dateFormat = new Intl.DateTimeFormat(tag, { dateStyle: 'medium' });
const relative = new Intl.RelativeTimeFormat(tag, { numeric: 'auto' });

export function parseTime(iso) {
  if (!iso) return null;
  const hasZone = /[zZ]|[+-]\d\d:?\d\d$/.test(iso);
  return new Date(hasZone ? iso : `${iso}Z`);
}

export function formatTime(iso) {
  const when = parseTime(iso);
  if (!when) return '';
  const today = new Date().toDateString() === when.toDateString();
  return today ? timeFormat.format(when) : dateTimeFormat.format(when);
}

export function formatDate(iso) {
  const when = parseTime(iso);
  return when ? dateFormat.format(when) : '';
}

export function formatDateTime(iso) {
  const when = parseTime(iso);
  return when ? dateTimeFormat.format(when) : '';
}

/** "3 minutes ago" in the agent's language. */
export function formatAgo(iso) {
  const when = parseTime(iso);
  if (!when) return '';
  const seconds = Math.round((when.getTime() - Date.now()) / 1000);
  const steps = [[60, 'second'], [3600, 'minute'], [86400, 'hour'], [Infinity, 'day']];
  let unit = 1;
  for (const [limit, name] of steps) {
    if (Math.abs(seconds) < limit) return relative.format(Math.round(seconds / unit), name);
    unit = limit;
  }
  return '';
}

/** A wait clock: 0:42, 12:05, 1:02:09. */
export function formatWait(iso) {
  const when = parseTime(iso);
  if (!when) return '';
  let total = Math.max(0, Math.floor((Date.now() - when.getTime()) / 1000));
  const hours = Math.floor(total / 3600);
  total %= 3600;
  const minutes = Math.floor(total / 60);
  const seconds = String(total % 60).padStart(2, '0');
  return hours ? `${hours}:${String(minutes).padStart(2, '0')}:${seconds}` : `${minutes}:${seconds}`;
}
