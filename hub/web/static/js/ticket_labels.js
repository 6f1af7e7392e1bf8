// Words for work orders: types, steps, actions and choices, from the reference data where it
// names them in both languages, else from the catalog; unknown codes show as stored.

import { api } from './api.js';
import { _, locale, parseTime } from './i18n.js';

let reference = null;
let loading = null;

/** The ticket types, categories and units (GET /api/tickets/types), fetched once. */
export function loadReference() {
  if (!loading) {
    loading = api('GET', '/api/tickets/types').then((data) => { reference = data; return data; })
      .catch((err) => { loading = null; throw err; });
  }
  return loading;
}

export function referenceData() {
  return reference || { types: [], categories: [], units: [] };
}

/** A row's name in the agent's language: ``name_zh_cn`` for Chinese when there is one. */
export function localName(row) {
  if (!row) return '';
  return (locale === 'zh_CN' && row.name_zh_cn) || row.name_en || row.name || row.code || '';
}

export function typeLabel(code) {
  return localName(referenceData().types.find((t) => t.code === code)) || code;
}

export function unitLabel(id) {
  if (id === null || id === undefined) return '—';
  const unit = referenceData().units.find((u) => u.id === id);
  return unit ? unit.name : _('Unit #{id}', { id });
}

export function categoryLabel(id) {
  return localName(referenceData().categories.find((c) => c.id === id)) || '';
}

export function ticketStatusLabel(status) {
  const labels = { open: _('Open'), closed: _('Closed') };
  return labels[status] || status;
}

export function stepLabel(code) {
  const labels = {
    accept: _('Acceptance'), review: _('Review'), dispatch: _('Dispatch'), process: _('Process'),
    reply: _('Reply to customer'), feedback: _('Customer feedback'), close: _('Closing'),
    respond: _('Respond'), arrive: _('Arrive on site'), repair: _('Repair'),
  };
  return labels[code] || code;
}

export function actionLabel(action) {
  const labels = {
    create: _('Created'), advance: _('Advanced'), dispatch: _('Dispatched'), return: _('Returned'),
    transfer: _('Transferred'), cc: _('Co-processing asked'), close: _('Closed'), reopen: _('Reopened'),
    comment: _('Commented'), take: _('Taken'), urge: _('Urged'),
  };
  return labels[action] || action;
}

/** Labels for the types' own choices (level, kind, source). */
export function choiceLabel(value) {
  const labels = {
    major_urgent: _('Major and urgent'), general: _('General'), complex: _('Complex'),
    tariff: _('Tariff'), service: _('Service'), network: _('Network'), business: _('Business'),
    billing: _('Billing'), marketing: _('Marketing'), other: _('Other'), product: _('Product'),
    mobile: _('Mobile'), broadband: _('Broadband'), fixed_line: _('Fixed line'), iptv: _('IPTV'),
    supervision_hotline: _('Supervision hotline'), media: _('Media'),
    consumer_association: _('Consumer association'), headquarters: _('Headquarters'),
    regulator: _('Regulator'),
  };
  return labels[value] || value;
}

export function satisfactionLabel(value) {
  const labels = {
    5: _('Very satisfied'), 4: _('Satisfied'), 3: _('Neutral'), 2: _('Dissatisfied'),
    1: _('Very dissatisfied'),
  };
  return labels[value] || '';
}

/** An open ticket whose step deadline has passed. */
export function isOverdue(ticket) {
  if (ticket.overdue !== undefined) return ticket.overdue;
  const due = parseTime(ticket.step_due_at);
  return ticket.status === 'open' && due !== null && due.getTime() < Date.now();
}
