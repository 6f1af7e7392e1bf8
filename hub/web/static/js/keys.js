// Keyboard-first: every common action has a key; none fires while typing in a field.

import { useControlByKey } from './callbar.js';
import { chooseFile, focusReply, openCloseDialog, sendReply, takeOpen } from './conversation.js';
import { $ } from './dom.js';
import { loadRemoteImages } from './message_view.js';
import { openMoveDialog } from './move.js';
import { acceptOffer, declineOffer, hasOffer } from './offers.js';
import { nextContact, openStateMenu } from './statusbar.js';
import { openTicketForm } from './ticket_panel.js';

let prefix = null;
let prefixTimer = null;

export function initKeys(actions) {
  document.addEventListener('keydown', (event) => onKey(event, actions));
  $('#help-button').addEventListener('click', toggleHelp);
}

function typingIn(target) {
  return target instanceof HTMLElement
    && (target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName));
}

function anyDialogOpen() {
  return document.querySelector('dialog[open]') !== null;
}

function onKey(event, actions) {
  if (event.defaultPrevented) return;
  if (event.key === 'Enter' && (event.ctrlKey || event.metaKey) && event.target.id === 'reply-text') {
    event.preventDefault();
    sendReply();
    return;
  }
  // Alt+key: the open call's controls (Alt+H hold, Alt+M mute...), as its channel declares them,
  // even from the reply box: a call's controls must answer at once.
  if (event.altKey && !event.ctrlKey && !event.metaKey && !anyDialogOpen() && event.key.length === 1) {
    if (useControlByKey(event.code.startsWith('Key') ? event.code.slice(3) : event.key)) event.preventDefault();
    return;
  }
  if (typingIn(event.target)) {
    if (event.key === 'Escape' && !anyDialogOpen()) {
      event.target.blur();
      $('#list').focus();
    }
    return;
  }
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  // Enter answers a ringing offer wherever the focus was left, except on the offer's own buttons.
  if (event.key === 'Enter' && hasOffer() && !anyDialogOpen() && !event.target.closest('#offers')) {
    event.preventDefault();
    acceptOffer();
    return;
  }
  if (event.key === 'Enter' && ['BUTTON', 'A'].includes(event.target.tagName)) return;
  if (anyDialogOpen()) {
    if (event.key === '?' && $('#help-dialog').open) { event.preventDefault(); $('#help-dialog').close(); }
    return;
  }
  const handler = prefix === 'g' ? goKeys(actions)[event.key] : plainKeys(actions)[event.key];
  prefix = null;
  clearTimeout(prefixTimer);
  if (!handler) return;
  event.preventDefault();
  handler();
}

function goKeys(actions) {
  return {
    w: () => actions.switchView('waiting'),
    m: () => actions.switchView('mine'),
    t: () => window.location.assign('/tickets'),
  };
}

function plainKeys(actions) {
  return {
    j: () => actions.moveSelection(1),
    ArrowDown: () => actions.moveSelection(1),
    k: () => actions.moveSelection(-1),
    ArrowUp: () => actions.moveSelection(-1),
    Enter: () => actions.openSelected(),
    a: () => acceptOffer(),
    d: () => declineOffer(),
    s: () => openStateMenu(),
    n: () => nextContact(),
    m: () => openMoveDialog(),
    t: () => takeOpen(),
    r: () => focusReply(),
    i: () => focusReply(),
    c: () => openCloseDialog(),
    u: () => chooseFile(),
    w: () => openTicketForm(),
    l: () => loadRemoteImages(),
    '?': () => toggleHelp(),
    g: () => { prefix = 'g'; prefixTimer = setTimeout(() => { prefix = null; }, 1500); },
  };
}

function toggleHelp() {
  const dialog = $('#help-dialog');
  if (dialog.open) dialog.close();
  else dialog.showModal();
}
