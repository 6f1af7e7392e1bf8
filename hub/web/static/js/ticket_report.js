// The supervisors' report: per owner unit, its open work orders, how many are past their
// step's deadline and how often they were urged (GET /api/tickets/report), worst first.

import { api } from './api.js';
import { $, clear, h } from './dom.js';
import { unitLabel } from './ticket_labels.js';
import { showError } from './toast.js';

export async function loadReport() {
  let data;
  try {
    data = await api('GET', '/api/tickets/report');
  } catch (err) {
    showError(err.message);
    return;
  }
  clear($('#report-body')).append(...data.items.map(reportRow));
  $('#report-empty').hidden = data.items.length > 0;
}

function reportRow(row) {
  return h('tr', { 'data-unit': row.unit_id ?? '' },
    h('th', { scope: 'row', text: row.unit || unitLabel(row.unit_id) }),
    h('td', { class: 'num', text: String(row.open) }),
    h('td', { class: `num${row.overdue > 0 ? ' overdue' : ''}`, text: String(row.overdue) }),
    h('td', { class: 'num', text: String(row.urges) }));
}
