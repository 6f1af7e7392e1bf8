// Supervisors move the open conversation to another queue or straight to an agent (m).

import { api } from './api.js';
import { $, clear, h } from './dom.js';
import { _ } from './i18n.js';
import { stateLabel } from './labels.js';
import { state } from './state.js';
import { showError, showInfo } from './toast.js';

let hooks = { moved: () => {} };

export function initMove(given) {
  const button = $('#move-button');
  if (!button) return;
  hooks = given;
  button.addEventListener('click', () => openMoveDialog());
  $('#move-form').addEventListener('submit', (event) => { event.preventDefault(); submitMove(); });
  $('#move-cancel').addEventListener('click', () => $('#move-dialog').close());
  // A list box does not submit its form on Enter by itself.
  $('#move-target').addEventListener('keydown', (event) => {
    if (event.key === 'Enter') { event.preventDefault(); submitMove(); }
  });
}

export async function openMoveDialog() {
  if (!$('#move-button') || !state.open || state.open.status === 'closed') return;
  let board;
  let agents;
  try {
    [board, agents] = await Promise.all([api('GET', '/api/wallboard'), api('GET', '/api/agents/states')]);
  } catch (err) {
    showError(err.message);
    return;
  }
  const queues = board.queues.map((q) => q.queue).filter((name) => name !== state.open.queue);
  clear($('#move-target')).append(
    h('optgroup', { label: _('Queues') }, queues.map((name) => h('option', { value: `queue:${name}`, text: name }))),
    h('optgroup', { label: _('Agents') }, agents.items.filter((a) => a.id !== state.open.agent_id).map((a) =>
      h('option', { value: `agent:${a.id}`, text: `${a.name} · ${a.number} (${stateLabel(a.state)})` }))));
  $('#move-error').hidden = true;
  $('#move-dialog').showModal();
  $('#move-target').focus();
}

async function submitMove() {
  const [kind, value] = $('#move-target').value.split(':');
  if (!value) return;
  const body = kind === 'queue' ? { queue: value } : { agent_id: Number(value) };
  try {
    await api('POST', `/api/interactions/${state.openId}/move`, body);
  } catch (err) {
    const error = $('#move-error');
    error.textContent = err.message;
    error.hidden = false;
    return;
  }
  $('#move-dialog').close();
  showInfo(_('Conversation moved.'));
  hooks.moved();
}
