// The case library beside an open ticket: resolved tickets kept as cases that look like it,
// best first, with what was done to solve them (GET /api/tickets/{id}/similar).

import { api } from './api.js';
import { $, h } from './dom.js';
import { _ } from './i18n.js';

let similar = { id: null, items: [] };

/** Ask again for the cases like ``ticket``; the section fills in when they come. */
export async function loadSimilar(ticket) {
  if (similar.id !== ticket.id) similar = { id: ticket.id, items: [] };
  if (ticket.status !== 'open') return;
  let data;
  try {
    data = await api('GET', `/api/tickets/${ticket.id}/similar`);
  } catch {
    return; // Suggestions help with the work but are not part of it: the ticket stays usable.
  }
  if (similar.id !== ticket.id) return;
  similar.items = data.items;
  const shown = $('#similar-cases');
  if (shown) shown.replaceWith(similarSection(ticket));
}

/** The suggestions for ``ticket`` as last loaded; hidden when it is closed or there are none. */
export function similarSection(ticket) {
  const items = ticket.status === 'open' && similar.id === ticket.id ? similar.items : [];
  return h('section', { id: 'similar-cases', class: 'similar-cases', 'aria-labelledby': 'similar-title',
    hidden: !items.length },
  h('h3', { id: 'similar-title', text: _('Similar cases') }),
  h('ol', { class: 'similar-list' }, items.map((item) => h('li', { class: 'similar-case', 'data-id': item.id },
    h('div', { class: 'similar-line' },
      h('a', { href: `/tickets#${item.id}`, class: 'ticket-number', text: item.number }),
      h('span', { class: 'similar-title', text: item.title })),
    item.resolution ? h('p', { class: 'similar-resolution', text: item.resolution }) : null))));
}
