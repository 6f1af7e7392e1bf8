// The customer panel: who they are and every earlier contact on any channel.

import { api } from './api.js';
import { $, clear, h } from './dom.js';
import { _, formatDate, formatDateTime } from './i18n.js';
import { channelLabel, channelMark, identityLabel, statusLabel, tierLabel } from './labels.js';
import { showError } from './toast.js';

let shownFor = null;
let dispositionNames = new Map();
let hooks = { opened: () => {} };

export async function loadCustomer(customerId, currentInteractionId) {
  shownFor = customerId;
  let panel;
  try {
    panel = await api('GET', `/api/customers/${customerId}`);
  } catch (err) {
    if (shownFor === customerId) hideCustomer();
    if (err.status !== 403) showError(err.message);
    return;
  }
  if (shownFor !== customerId) return;
  $('#customer-empty').hidden = true;
  $('#customer').hidden = false;
  $('#cust-name').textContent = panel.name || _('Unknown customer');
  $('#cust-tier').textContent = tierLabel(panel.tier);
  $('#cust-region').textContent = panel.region || '—';
  $('#cust-since').textContent = formatDate(panel.since);
  const canCall = (panel.contact_channels || []).includes('voice');
  clear($('#cust-identities')).append(...panel.identities.map((i) => h('li', {},
    h('span', { class: 'id-kind', text: identityLabel(i.kind) }), ' ',
    h('span', { class: 'id-address', text: i.address }),
    canCall && i.kind === 'phone' ? h('button', {
      type: 'button', class: 'btn btn-small call-button', 'data-identity': i.id,
      onclick: () => callCustomer(customerId, i.id),
    }, _('Call')) : null)));
  const history = clear($('#cust-history'));
  if (!panel.interactions.length) history.append(h('li', { class: 'empty', text: _('No earlier contacts.') }));
  for (const item of panel.interactions) history.append(historyRow(item, currentInteractionId));
}

/** Click-to-call: the agent's phone rings, then the customer's; the new call opens. */
async function callCustomer(customerId, identityId) {
  try {
    const data = await api('POST', `/api/customers/${customerId}/contacts`,
      { channel: 'voice', identity_id: identityId });
    hooks.opened(data.interaction_id);
  } catch (err) {
    showError(err.message);
  }
}

export function initPanel(given) {
  hooks = given;
}

function historyRow(item, currentId) {
  const outcome = item.disposition
    ? dispositionNames.get(item.disposition) || item.disposition : statusLabel(item.status);
  return h('li', { class: item.id === currentId ? 'current' : '', 'data-id': item.id },
    h('span', { class: `chan chan-${item.channel}`, title: channelLabel(item.channel),
      text: channelMark(item.channel) }),
    h('div', { class: 'history-main' },
      h('div', { class: 'history-line' },
        h('time', { datetime: item.created_at, text: formatDateTime(item.created_at) }),
        h('span', { class: 'history-channel', text: channelLabel(item.channel) })),
      h('div', { class: 'history-outcome' },
        item.id === currentId ? h('strong', { text: _('This conversation') }) : outcome,
        item.subject ? h('span', { class: 'muted', text: ` · ${item.subject}` }) : null)));
}

/** Labels for disposition codes, in the agent's language. */
export function setDispositions(items) {
  dispositionNames = new Map(items.map((d) => [d.code, d.label]));
}

export function hideCustomer() {
  shownFor = null;
  $('#customer').hidden = true;
  $('#customer-empty').hidden = false;
}
