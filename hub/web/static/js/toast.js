// One place to tell the agent what went wrong (the API's own message says what to do).

import { $ } from './dom.js';

let timer = null;

export function showError(message) {
  show(message, 'toast-error');
}

export function showInfo(message) {
  show(message, 'toast-info');
}

function show(message, kind) {
  const toast = $('#toast');
  toast.textContent = message;
  toast.className = `toast ${kind}`;
  toast.hidden = false;
  clearTimeout(timer);
  timer = setTimeout(() => { toast.hidden = true; }, 8000);
}
