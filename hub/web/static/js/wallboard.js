// The supervisors' wallboard: queues, tiers and agents, live over /ws/agent; force states.

import { api } from './api.js';
import { barChart } from './charts.js';
import { $, clear, h, throttle } from './dom.js';
import { _, formatTime, loadCatalog, parseTime } from './i18n.js';
import { formatSeconds, stateLabel, tierLabel } from './labels.js';
import { Live } from './live.js';
import { loadReasons, reasonLabel, reasonsFor } from './reasons.js';
import { overdueText } from './statusbar.js';
import { showError, showInfo } from './toast.js';

const live = new Live({ onFrame, onState });
const board = { data: null, receivedAt: 0 };
let agents = [];
let busyReasons = [];
const refreshAgentsSoon = throttle(() => refreshAgents(), 1000);

async function boot() {
  await loadCatalog();
  busyReasons = await reasonsFor('busy').catch(() => []);
  await loadReasons().catch(() => {});
  await Promise.all([refreshBoard(), refreshAgents()]);
  setInterval(tick, 1000);
  live.connect();
  window.contacthub = { live };
}

async function refreshBoard() {
  try {
    showBoard(await api('GET', '/api/wallboard'));
  } catch (err) {
    showError(err.message);
  }
}

async function refreshAgents() {
  try {
    agents = (await api('GET', '/api/agents/states')).items;
  } catch (err) {
    showError(err.message);
    return;
  }
  renderAgents();
}

// -- queues and charts ---------------------------------------------------------------------

function showBoard(data) {
  board.data = data;
  board.receivedAt = Date.now();
  $('#board-at').textContent = data.at ? _('Updated {time}', { time: formatTime(data.at) }) : '';
  const rows = clear($('#queue-rows'));
  for (const queue of data.queues) rows.append(queueRow(queue), ...queue.tiers.map((t) => tierRow(queue, t)));
  $('#queues-empty').hidden = data.queues.length > 0;
  renderTotals(data.agents || {});
  renderCharts(data);
  tick();
}

function queueRow(q) {
  return h('tr', { class: 'queue-row', 'data-queue': q.queue },
    h('th', { scope: 'row', text: q.queue }),
    num(q.waiting, 'waiting'),
    h('td', { class: 'num longest', 'data-seconds': q.longest_wait, 'data-waiting': q.waiting,
      text: formatSeconds(q.longest_wait) }),
    num(q.ringing, 'ringing'), num(q.held, 'held'), h('td', { class: 'num', text: '' }),
    num(q.answered, 'answered'), num(q.abandoned, 'abandoned'),
    h('td', { class: 'num asa', text: q.asa === null ? '–' : formatSeconds(q.asa) }),
    h('td', {}, stateChips(q.agents)));
}

function tierRow(q, t) {
  const ok = t.service_level >= t.target.fraction;
  return h('tr', { class: 'tier-row', 'data-queue': q.queue, 'data-tier': t.tier },
    h('td', { text: tierLabel(t.tier) }),
    num(t.waiting, 'waiting'),
    h('td', { class: 'num longest', 'data-seconds': t.longest_wait, 'data-waiting': t.waiting,
      text: formatSeconds(t.longest_wait) }),
    h('td', {}), h('td', {}),
    h('td', { class: `num sl ${ok ? 'sl-ok' : 'sl-low'}`, text: slText(t) }),
    num(t.answered, 'answered'), num(t.abandoned, 'abandoned'),
    h('td', { class: 'num asa', text: t.asa === null ? '–' : formatSeconds(t.asa) }),
    h('td', {}));
}

function num(value, name) {
  return h('td', { class: `num ${name}`, text: String(value) });
}

function percent(fraction) {
  return `${Math.round(fraction * 100)}%`;
}

function slText(t) {
  return _('{level} / {target} in {seconds} s', {
    level: percent(t.service_level), target: percent(t.target.fraction), seconds: Math.round(t.target.seconds),
  });
}

function stateChips(counts) {
  const line = h('div', { class: 'chips-line' });
  for (const [agentState, count] of Object.entries(counts || {}).sort()) {
    line.append(h('span', { class: `state-pill state-${agentState}`, 'data-state': agentState,
      text: `${stateLabel(agentState)} ${count}` }));
  }
  return line;
}

function renderTotals(counts) {
  clear($('#agent-totals')).append(stateChips(counts));
}

function renderCharts(data) {
  const most = Math.max(1, ...data.queues.map((q) => q.waiting));
  clear($('#chart-waiting')).append(barChart(
    data.queues.map((q) => ({ label: q.queue, value: q.waiting, text: String(q.waiting) })),
    { max: most, title: _('Waiting per queue'), empty: _('No queues yet.') }));
  const tiers = data.queues.flatMap((q) => q.tiers.map((t) => ({ queue: q.queue, ...t })));
  clear($('#chart-sl')).append(barChart(
    tiers.map((t) => ({
      label: `${t.queue} · ${tierLabel(t.tier)}`, value: t.service_level, target: t.target.fraction,
      text: `${percent(t.service_level)} / ${percent(t.target.fraction)}`,
      className: t.service_level >= t.target.fraction ? 'bar-ok' : 'bar-low',
    })),
    { max: 1, title: _('Service level against target, per tier'), empty: _('No contacts today yet.') }));
}

// -- agents --------------------------------------------------------------------------------

function renderAgents() {
  const rows = clear($('#agent-rows'));
  for (const agent of agents) rows.append(agentRow(agent));
  tick();
}

function agentRow(agent) {
  const reasons = h('select', { class: 'force-reason', 'aria-label': _('Busy reason') },
    busyReasons.map((r) => h('option', { value: r.code, text: r.label })));
  return h('tr', { id: `agent-${agent.id}`, 'data-agent': agent.id },
    h('td', { text: agent.number }),
    h('td', { text: agent.name }),
    h('td', {}, h('span', { class: `state-pill state-${agent.state}`, 'data-state': agent.state },
      stateLabel(agent.state), agent.reason && reasonLabel(agent.reason)
        ? h('span', { class: 'state-reason', text: `· ${reasonLabel(agent.reason)}` }) : null)),
    h('td', { class: 'num since', 'data-since': agent.since || '' }),
    h('td', {}, h('div', { class: 'agent-actions' },
      h('button', { type: 'button', class: 'btn btn-small force-idle', text: _('Force idle'),
        onclick: () => force(agent, 'idle', '') }),
      reasons,
      h('button', { type: 'button', class: 'btn btn-small force-busy', text: _('Force busy'),
        onclick: () => force(agent, 'busy', reasons.value) }),
      h('button', { type: 'button', class: 'btn btn-small force-logout', text: _('Force logout'),
        onclick: () => force(agent, 'logged_out', '') }))));
}

async function force(agent, agentState, reason) {
  try {
    await api('POST', `/api/agents/${agent.id}/state`, { state: agentState, reason });
  } catch (err) {
    showError(err.message);
    return;
  }
  showInfo(_('{name} is now {state}.', { name: agent.name, state: stateLabel(agentState) }));
  // The agent_state frame updates the row; this covers a missed frame.
  refreshAgentsSoon();
}

function applyAgentState(frame) {
  const agent = agents.find((a) => a.id === frame.agent_id);
  if (!agent) { refreshAgentsSoon(); return; }
  Object.assign(agent, { state: frame.to_state, reason: frame.reason || '', since: frame.at });
  const row = document.getElementById(`agent-${agent.id}`);
  if (row) row.replaceWith(agentRow(agent));
  tick();
}

function alertText(frame) {
  if (frame.kind !== 'missed_offers') return overdueText(frame);
  const agent = agents.find((a) => a.id === frame.agent_id);
  return _('{name} has missed {count} offers today.', { name: agent ? agent.name : `#${frame.agent_id}`, count: frame.count });
}

function addAlert(frame) {
  const list = $('#alerts');
  list.prepend(h('li', {}, h('time', { text: `${formatTime(new Date().toISOString())} ` }), alertText(frame)));
  while (list.children.length > 20) list.lastChild.remove();
  $('#alerts-empty').hidden = true;
}

// -- time and the socket ---------------------------------------------------------------------

function tick() {
  for (const node of document.querySelectorAll('#agent-rows .since')) {
    const since = parseTime(node.dataset.since);
    node.textContent = since ? formatSeconds((Date.now() - since.getTime()) / 1000) : '–';
  }
  // Between boards the longest wait keeps growing while someone waits.
  const elapsed = (Date.now() - board.receivedAt) / 1000;
  for (const node of document.querySelectorAll('#queue-rows .longest')) {
    const grows = Number(node.dataset.waiting) > 0;
    node.textContent = formatSeconds(Number(node.dataset.seconds) + (grows ? elapsed : 0));
  }
}

function onFrame(frame) {
  if (frame.type === 'wallboard') showBoard(frame);
  else if (frame.type === 'agent_state') applyAgentState(frame);
  else if (frame.type === 'alert' && (frame.kind === 'missed_offers' || frame.agent_name)) addAlert(frame);
  else if (frame.type === 'error') showError(frame.message);
}

function onState(status, detail) {
  const conn = $('#conn');
  if (status === 'open') {
    conn.textContent = _('Live');
    conn.className = 'conn conn-on';
    if (detail) { refreshBoard(); refreshAgents(); }
  } else if (status === 'closed') {
    conn.textContent = _('Reconnecting in {seconds} s…', { seconds: Math.ceil(detail / 1000) });
    conn.className = 'conn conn-off';
  } else {
    conn.textContent = _('Connecting…');
    conn.className = 'conn conn-off';
  }
}

boot();
