// The agent's status bar: my state and how long, my queues' figures, the state menu and
// "next contact". Refreshed from /api/me/status when a frame says something changed.

import { api } from './api.js';
import { $, clear, h, throttle } from './dom.js';
import { _, parseTime } from './i18n.js';
import { formatSeconds, stateLabel } from './labels.js';
import { loadReasons, reasonLabel, reasonsFor } from './reasons.js';
import { showError, showInfo } from './toast.js';

const TALKING = new Set(['active', 'hold']);
const CHOICES = [
  { state: 'idle', label: () => _('Idle: ready for contacts') },
  { state: 'busy', label: () => _('Busy…'), reasons: true },
  { state: 'leave', label: () => _('Leave…'), reasons: true },
  { state: 'adjust', label: () => _('Adjust') },
  { state: 'study', label: () => _('Study') },
  { state: 'handover', label: () => _('Hand-over') },
  { state: 'logged_out', label: () => _('Log out of routing') },
];

let status = null;
let fetchedAt = 0;
let fetching = null;

export function initStatusBar() {
  $('#state-button').addEventListener('click', () => openStateMenu());
  $('#next-button').addEventListener('click', () => nextContact());
  $('#state-dialog').addEventListener('keydown', menuKeys);
  $('#state-cancel').addEventListener('click', () => $('#state-dialog').close());
  loadReasons().catch(() => {}).then(() => render());
  refreshStatus();
}

/** GET /api/me/status now; calls made while one is running share its answer. */
export function refreshStatus() {
  if (!fetching) {
    fetching = api('GET', '/api/me/status').then(show).catch((err) => showError(err.message))
      .finally(() => { fetching = null; });
  }
  return fetching;
}

/** For frames that may change my figures: at most one refresh a second. */
export const refreshStatusSoon = throttle(() => refreshStatus(), 1000);

function show(data) {
  status = data;
  fetchedAt = Date.now();
  render();
}

function render() {
  if (!status) return;
  const pill = $('#state-button');
  pill.className = `state-pill state-${status.state}`;
  pill.dataset.state = status.state;
  $('#state-name').textContent = stateLabel(status.state);
  $('#state-reason').textContent = reasonLabel(status.reason);
  $('#fig-idle').textContent = status.idle_agents;
  $('#fig-waiting').textContent = status.waiting;
  $('#fig-contacts').textContent = status.contacts_today;
  $('#fig-missed').textContent = status.missed_offers_today;
  $('#fig-wrap').textContent = formatSeconds(status.wrap_up_total_seconds);
  $('#fig-talk-avg').textContent = formatSeconds(status.talk_average_seconds);
  tickStatus();
}

/** Every second: the state clock and, while on a contact, the talk clocks. */
export function tickStatus() {
  if (!status) return;
  const since = parseTime(status.since);
  const elapsed = since ? (Date.now() - since.getTime()) / 1000 : 0;
  $('#state-clock').textContent = since ? formatSeconds(elapsed) : '';
  const talking = TALKING.has(status.state) ? (Date.now() - fetchedAt) / 1000 : 0;
  $('#fig-talk-now').textContent = formatSeconds(status.talk_now_seconds + talking);
  $('#fig-talk-total').textContent = formatSeconds(status.talk_total_seconds + talking);
}

export function currentState() {
  return status ? status.state : null;
}

export async function nextContact() {
  try {
    await api('POST', '/api/me/next');
    showInfo(_('Asked for the next contact…'));
  } catch (err) {
    showError(err.message);
  }
}

/** A frame for my screen: my state changed, or an overdue reminder. */
export function applyStatusFrame(frame, agentId) {
  if (frame.type === 'agent_state' && frame.agent_id === agentId) {
    refreshStatus();
  } else if (frame.type === 'alert' && frame.kind === 'overdue' && frame.agent_id === agentId && !frame.agent_name) {
    showError(overdueText(frame));
  } else if (frame.type === 'next' && frame.found === false) {
    showInfo(_('Nobody is waiting in your queues.'));
  } else if (frame.type === 'inbox' || frame.type === 'offer') {
    refreshStatusSoon();
  }
}

/** "Your leave (Meal) is 5 min over its 30 min limit."; supervisors get the agent's name. */
export function overdueText(frame) {
  const named = stateLabel(frame.state);
  const agentState = frame.agent_name ? named : named.toLocaleLowerCase();
  const reason = reasonLabel(frame.reason);
  const params = {
    what: reason ? _('{state} ({reason})', { state: agentState, reason }) : agentState,
    over: Math.max(1, Math.round(frame.over_seconds / 60)), limit: Math.round(frame.limit_seconds / 60),
    name: frame.agent_name || '',
  };
  return frame.agent_name ? _('{name}: {what} is {over} min over its {limit} min limit.', params)
    : _('Your {what} is {over} min over its {limit} min limit.', params);
}

// -- the state menu --------------------------------------------------------------------------

export function openStateMenu() {
  const dialog = $('#state-dialog');
  if (dialog.open) return;
  $('#state-error').hidden = true;
  $('#state-title').textContent = _('Change my state');
  showChoices(CHOICES.map((choice) => ({
    label: choice.label(), current: status && status.state === choice.state && !choice.reasons,
    pick: () => (choice.reasons ? showReasons(choice.state) : choose(choice.state, '')),
  })));
  dialog.showModal();
  focusChoice(Math.max(0, CHOICES.findIndex((c) => status && c.state === status.state)));
}

async function showReasons(agentState) {
  let reasons;
  try {
    reasons = await reasonsFor(agentState);
  } catch (err) {
    menuError(err.message);
    return;
  }
  $('#state-title').textContent = agentState === 'busy' ? _('Busy: pick a reason') : _('Leave: pick a category');
  showChoices(reasons.map((r) => ({
    label: r.limit ? _('{label} (up to {minutes} min)', { label: r.label, minutes: r.limit }) : r.label,
    current: status && status.state === agentState && status.reason === r.code,
    pick: () => choose(agentState, r.code),
  })));
  focusChoice(0);
}

function showChoices(choices) {
  const list = clear($('#state-choices'));
  choices.forEach((choice, index) => list.append(h('li', {},
    h('button', { type: 'button', class: `choice${choice.current ? ' current' : ''}`, onclick: choice.pick },
      h('kbd', { text: String(index + 1) }), ' ', choice.label))));
}

function focusChoice(index) {
  const buttons = $('#state-choices').querySelectorAll('button');
  if (buttons[index]) buttons[index].focus();
}

async function choose(agentState, reason) {
  try {
    show(await api('POST', '/api/me/state', { state: agentState, reason }));
  } catch (err) {
    menuError(err.message);
    return;
  }
  $('#state-dialog').close();
}

function menuError(message) {
  const error = $('#state-error');
  error.textContent = message;
  error.hidden = false;
}

function menuKeys(event) {
  if (event.ctrlKey || event.altKey || event.metaKey) return;
  const buttons = [...$('#state-choices').querySelectorAll('button')];
  const at = buttons.indexOf(document.activeElement);
  if (/^[1-9]$/.test(event.key)) {
    event.preventDefault();
    const button = buttons[Number(event.key) - 1];
    if (button) button.click();
  } else if (event.key === 'ArrowDown' || event.key === 'j') {
    event.preventDefault();
    focusChoice(Math.min(buttons.length - 1, at + 1));
  } else if (event.key === 'ArrowUp' || event.key === 'k') {
    event.preventDefault();
    focusChoice(Math.max(0, at - 1));
  }
}
