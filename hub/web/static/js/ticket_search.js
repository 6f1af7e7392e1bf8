// The ticket search form: every filter of GET /api/tickets/search, newest first, with keyset
// pages ("more" asks for the tickets before the last one shown).

import { api } from './api.js';
import { $, clear, h } from './dom.js';
import { _ } from './i18n.js';
import { localName, referenceData } from './ticket_labels.js';
import { showError } from './toast.js';

const FIELDS = ['number', 'phone', 'customer_id', 'text', 'type', 'status', 'region', 'unit_id',
  'handler_id', 'created_from', 'created_to', 'overdue'];
let query = null;
let next = null;

export function initSearch({ found }) {
  $('#search-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    query = filters();
    next = null;
    const page = await fetchPage();
    if (page) found(page, false);
  });
  $('#search-more').addEventListener('click', async () => {
    const page = await fetchPage();
    if (page) found(page, true);
  });
  $('#search-form').addEventListener('reset', () => { query = null; next = null; found({ items: [] }, false); });
}

/** The form's choices from the reference data (types and units). */
export function fillSearchChoices() {
  const { types, units } = referenceData();
  clear($('#search-type')).append(h('option', { value: '', text: _('Any type') }),
    ...types.map((t) => h('option', { value: t.code, text: localName(t) })));
  clear($('#search-unit_id')).append(h('option', { value: '', text: _('Any unit') }),
    ...units.map((u) => h('option', { value: String(u.id), text: `${u.name} · ${u.code}` })));
}

export function focusSearch() {
  $('#search-number').focus();
}

function filters() {
  const params = new URLSearchParams();
  for (const name of FIELDS) {
    const value = $(`#search-${name}`).value.trim();
    if (value) params.set(name, value);
  }
  return params;
}

async function fetchPage() {
  const params = new URLSearchParams(query || filters());
  if (next) params.set('before', next);
  let data;
  try {
    data = await api('GET', `/api/tickets/search?${params}`);
  } catch (err) {
    showError(err.message);
    return null;
  }
  next = data.next || null;
  $('#search-more').hidden = !next;
  return data;
}
