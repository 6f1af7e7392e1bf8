/* contacthub web chat frame: the chat itself. Plain text only (textContent everywhere); resumes by seq. */
(function () {
  "use strict";
  var BASE = location.origin + location.pathname.replace(/\/frame$/, "");
  var WS_URL = (location.protocol === "https:" ? "wss://" : "ws://") + location.host +
    location.pathname.replace(/\/frame$/, "/ws");
  var cfg = CH.cfg, t = CH.t, $ = CH.$, show = CH.show, uuid4 = CH.uuid4, formFields = CH.formFields;
  var errorText = CH.errorText;
  var state = CH.load();
  var ws = null, welcomed = false, attempt = 0, rendered = {}, typingOnAt = 0, typingTimer = null;
  var readTimer = null, typingHide = null;

  function setStatus(s) { $("chat-status").textContent = t(s); }




  function newSession(fields) {
    return CH.post(BASE + "/session", fields).then(function (d) {
      if (!d.token) { throw d; }
      state = { token: d.token, conversation_id: null, last_seq: 0, pending: state.pending };
      CH.save(state);
    });
  }

  function startChat() { show("chat"); setStatus("Connecting…"); connect(); }

  function begin() {
    if (state.token) { startChat(); return; }
    if (!cfg.online) { show("offline"); setStatus("Offline"); return; }
    if (cfg.prechat) { show("prechat"); return; }
    newSession({}).then(startChat, function () { note(t("Something went wrong. Please try again.")); });
  }

  /* ---- socket ---- */
  function connect() {
    welcomed = false;
    ws = new WebSocket(WS_URL);
    ws.onopen = function () {
      ws.send(JSON.stringify({ type: "hello", token: state.token, conversation_id: state.conversation_id,
                               last_seq: state.last_seq }));
    };
    ws.onmessage = function (e) {
      var f; try { f = JSON.parse(e.data); } catch (err) { return; }
      (handlers[f.type] || function () {})(f);
    };
    ws.onclose = function (e) {
      ws = null; welcomed = false;
      if (e.code === 4001) { renew(); return; }
      setStatus("Reconnecting…");
      // Exponential backoff with jitter, so a restarted hub is not hit by every widget at once.
      var delay = Math.min(30000, 1000 * Math.pow(2, attempt++));
      setTimeout(connect, delay / 2 + Math.random() * delay / 2);
    };
  }

  function renew() {
    state = { token: "", conversation_id: null, last_seq: 0, pending: state.pending };
    CH.save(state); clearLog();
    if (cfg.prechat) { show("prechat"); } else { newSession({}).then(connect); }
  }

  function send(frame) {
    if (ws && welcomed) { ws.send(JSON.stringify(frame)); return true; }
    return false;
  }

  var handlers = {
    welcome: function (f) {
      attempt = 0;
      if (f.conversation_id !== state.conversation_id) { clearLog(); state.conversation_id = f.conversation_id; }
      state.last_seq = f.last_seq;
      CH.save(state);
      if (!welcomed) {
        welcomed = true;
        setStatus("Connected");
        // Unacknowledged messages go again with their ids; the hub stores each once.
        state.pending.forEach(function (p) { send({ type: "message", client_msg_id: p.id, text: p.text }); });
      }
    },
    message: function (f) { render(f); },
    ack: function (f) { dropPending(f.client_msg_id); },
    typing: function (f) {
      var box = $("chat-typing");
      box.hidden = f.state !== "on";
      box.textContent = t("Agent is typing…");
      clearTimeout(typingHide);
      typingHide = setTimeout(function () { box.hidden = true; }, 10000);
    },
    read: function (f) {
      document.querySelectorAll("#chat-log .msg.visitor[data-seq]").forEach(function (el) {
        if (+el.dataset.seq <= f.up_to_seq && !el.classList.contains("read")) {
          el.classList.add("read");
          el.querySelector(".meta").textContent += " · " + t("Read");
        }
      });
    },
    status: function (f) {
      if (f.state === "closed") {
        setStatus("Closed");
        note(t("This conversation is closed. Write to start a new one."));
      } else { setStatus("Connected"); }
    },
    error: function (f) {
      var p = f.client_msg_id && pendingOf(f.client_msg_id);
      if (p && (f.code === "rate_limited" || f.code === "unavailable")) {
        setTimeout(function () { if (pendingOf(p.id)) { send({ type: "message", client_msg_id: p.id, text: p.text }); } }, 5000);
      } else if (p) { dropPending(p.id); }
      note(errorText(f.code));
    },
    pong: function () {}
  };


  /* ---- rendering: textContent only ---- */
  function clearLog() {
    document.querySelectorAll("#chat-log .msg:not(.pending)").forEach(function (el) { el.remove(); });
    rendered = {};
  }

  function bubble(kind, text) {
    var el = document.createElement("div");
    el.className = "msg " + kind;
    var body = document.createElement("span");
    body.className = "text";
    body.textContent = text;
    el.appendChild(body);
    return el;
  }

  function note(text) {
    var el = bubble("system", text);
    var log = $("chat-log");
    log.insertBefore(el, log.querySelector(".pending"));
    log.scrollTop = log.scrollHeight;
  }

  function render(m) {
    if (rendered[m.seq]) { return; }
    var kind = m.author.type === "visitor" ? "visitor" : (m.author.type === "system" ? "system" : "agent");
    var el = bubble(kind, m.text);
    el.dataset.seq = m.seq;
    if (kind === "agent" && m.author.name) {
      var who = document.createElement("span");
      who.className = "author";
      who.textContent = m.author.name;
      el.insertBefore(who, el.firstChild);
    }
    (m.attachments || []).forEach(function (a) { el.appendChild(fileButton(a)); });
    var meta = document.createElement("span");
    meta.className = "meta";
    var at = new Date(m.created_at);
    meta.textContent = isNaN(at) ? "" : CH.timeFormat.format(at);
    el.appendChild(meta);
    var log = $("chat-log"), after = null;
    log.querySelectorAll(".msg[data-seq]").forEach(function (x) { if (!after && +x.dataset.seq > m.seq) { after = x; } });
    log.insertBefore(el, after || log.querySelector(".pending"));
    log.scrollTop = log.scrollHeight;
    rendered[m.seq] = el;
    if (m.client_msg_id) { dropPending(m.client_msg_id); }
    state.last_seq = Math.max(state.last_seq, m.seq);
    CH.save(state);
    if (kind === "agent") { markRead(); $("chat-typing").hidden = true; }
  }

  function fileButton(a) {
    var b = document.createElement("button");
    b.type = "button"; b.className = "file";
    b.textContent = "\u2193 " + a.filename;
    b.addEventListener("click", function () {
      fetch(BASE + "/files/" + encodeURIComponent(a.sha256), { headers: { Authorization: "Bearer " + state.token } })
        .then(function (r) { if (!r.ok) { throw r; } return r.blob(); })
        .then(function (blob) {
          var link = document.createElement("a");
          link.href = URL.createObjectURL(blob); link.download = a.filename;
          link.click();
          setTimeout(function () { URL.revokeObjectURL(link.href); }, 10000);
        }, function () { note(errorText("")); });
    });
    return b;
  }

  function markRead() {
    clearTimeout(readTimer);
    readTimer = setTimeout(function () {
      if (document.visibilityState === "visible") { send({ type: "read", up_to_seq: state.last_seq }); }
    }, 300);
  }

  /* ---- pending (sent, not yet acknowledged) ---- */
  function pendingOf(id) { return state.pending.filter(function (p) { return p.id === id; })[0]; }
  function dropPending(id) {
    state.pending = state.pending.filter(function (p) { return p.id !== id; });
    CH.save(state);
    var el = document.querySelector('#chat-log .pending[data-client-id="' + id + '"]');
    if (el) { el.remove(); }
  }
  function showPending(p) {
    var el = bubble("visitor pending", p.text);
    el.dataset.clientId = p.id;
    $("chat-log").appendChild(el);
    $("chat-log").scrollTop = $("chat-log").scrollHeight;
  }

  function submitMessage(e) {
    e.preventDefault();
    var input = $("chat-input"), text = input.value;
    if (!text.trim()) { return; }
    if (text.length > cfg.max_text) { note(errorText("text_too_long")); return; }
    var p = { id: uuid4(), text: text };
    state.pending.push(p); CH.save(state); showPending(p);
    input.value = "";
    send({ type: "message", client_msg_id: p.id, text: text });
    send({ type: "typing", state: "off" }); typingOnAt = 0;
  }

  function onTyping() {
    var now = Date.now();
    if (now - typingOnAt > 2500) { typingOnAt = now; send({ type: "typing", state: "on" }); }
    clearTimeout(typingTimer);
    typingTimer = setTimeout(function () { typingOnAt = 0; send({ type: "typing", state: "off" }); }, 3000);
  }

  function upload() {
    var input = $("chat-file"), file = input.files && input.files[0];
    if (!file) { return; }
    var body = new FormData();
    body.append("client_msg_id", uuid4());
    body.append("file", file, file.name);
    input.value = "";
    fetch(BASE + "/upload", { method: "POST", headers: { Authorization: "Bearer " + state.token }, body: body })
      .then(function (r) { return r.json(); })
      .then(function (d) { if (d.error) { note(errorText(d.error)); } }, function () { note(errorText("")); });
  }

  /* ---- forms ---- */
  function submitPrechat(e) {
    e.preventDefault();
    var form = $("prechat");
    newSession(formFields(form)).then(startChat, function (d) {
      form.querySelector(".form-error").textContent = t((d && d.message) || "Something went wrong. Please try again.");
    });
  }

  function submitOffline(e) {
    e.preventDefault();
    var form = $("offline"), fields = formFields(form);
    fields.client_msg_id = form.dataset.clientId || (form.dataset.clientId = uuid4());
    if (state.token) { fields.token = state.token; }
    CH.post(BASE + "/offline", fields).then(function (d) {
      if (d.status !== 201) { form.querySelector(".form-error").textContent = t(d.message || ""); return; }
      form.querySelector(".form-error").textContent = "";
      form.querySelector(".form-done").hidden = false;
      form.querySelector("button[type=submit]").disabled = true;
    }, function () { form.querySelector(".form-error").textContent = errorText(""); });
  }

  function wire() {
    $("chat-form").addEventListener("submit", submitMessage);
    $("chat-input").addEventListener("input", onTyping);
    $("chat-input").addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { submitMessage(e); }
    });
    $("chat-file").addEventListener("change", upload);
    $("prechat").addEventListener("submit", submitPrechat);
    $("offline").addEventListener("submit", submitOffline);
    // The message carries nothing but "close me", so any parent origin may receive it.
    $("chat-close").addEventListener("click", function () { parent.postMessage({ type: "contacthub:close" }, "*"); });
    document.addEventListener("visibilitychange", markRead);
    window.addEventListener("message", function (e) { if (e.data && e.data.type === "contacthub:shown") { markRead(); } });
  }

  function boot() {
    wire();
    state.pending.forEach(showPending);
    var lang = encodeURIComponent((navigator.languages || [navigator.language]).join(","));
    fetch(BASE + "/config?lang=" + lang).then(function (r) { return r.json(); })
      .then(function (c) { cfg = CH.cfg = c; }, function () {})
      .then(function () { CH.translate(); begin(); });
  }

  boot();
})();
