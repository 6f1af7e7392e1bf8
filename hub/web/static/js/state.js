// What the inbox screen holds: the list, the open conversation and the reply being written.

import { newClientId } from './dom.js';

export const state = {
  agentId: Number(document.querySelector('meta[name="agent-id"]')?.content || 0),
  view: 'waiting',
  items: [],
  selected: -1,
  openId: null,
  open: null,
  mayWrite: false,
  messages: new Map(),
  lastSeq: 0,
  customerReadSeq: 0,
  dispositions: null,
  files: [],
  clientId: newClientId(),
  sending: false,
};
