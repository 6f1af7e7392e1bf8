/* contacthub web chat frame: helpers frame.js uses (storage, strings, ids, forms). */
var CH = (function () {
  "use strict";
  var KEY = "contacthub.web";
  var ch = { cfg: { catalog: {}, locale: "en", max_text: 2000, prechat: false, online: true }, timeFormat: null };

  ch.$ = function (id) { return document.getElementById(id); };

  ch.load = function () {
    try {
      var s = JSON.parse(localStorage.getItem(KEY) || "{}");
      return { token: s.token || "", conversation_id: s.conversation_id || null,
               last_seq: s.last_seq || 0, pending: s.pending || [] };
    } catch (e) { return { token: "", conversation_id: null, last_seq: 0, pending: [] }; }
  };

  ch.save = function (state) {
    try { localStorage.setItem(KEY, JSON.stringify(state)); } catch (e) { /* storage off: memory only */ }
  };

  ch.t = function (s) { return ch.cfg.catalog[s] || s; };

  // crypto.randomUUID needs a secure context; getRandomValues works on plain http too.
  ch.uuid4 = function () {
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  };

  ch.show = function (id) {
    ["prechat", "offline", "chat"].forEach(function (x) { ch.$(x).hidden = x !== id; });
  };

  ch.translate = function () {
    document.documentElement.lang = ch.cfg.locale;
    document.querySelectorAll("[data-i18n]").forEach(function (el) { el.textContent = ch.t(el.dataset.i18n); });
    document.querySelectorAll("[data-i18n-placeholder]").forEach(function (el) {
      el.placeholder = ch.t(el.dataset.i18nPlaceholder);
    });
    document.querySelectorAll("[data-i18n-label]").forEach(function (el) {
      el.setAttribute("aria-label", ch.t(el.dataset.i18nLabel));
    });
    ch.timeFormat = new Intl.DateTimeFormat(ch.cfg.locale, { hour: "2-digit", minute: "2-digit" });
  };

  ch.post = function (url, body) {
    return fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) })
      .then(function (r) { return r.json().then(function (d) { d.status = r.status; return d; }); });
  };

  ch.formFields = function (form) {
    var out = {};
    Array.prototype.forEach.call(form.elements, function (el) { if (el.name) { out[el.name] = el.value; } });
    return out;
  };

  ch.errorText = function (code) {
    var known = {
      rate_limited: "You are sending messages too fast.", text_too_long: "This message is too long.",
      file_too_large: "The file is too large.", file_type_refused: "This type of file is not accepted.",
      empty_message: "Write a message first."
    };
    return ch.t(known[code] || "Something went wrong. Please try again.");
  };

  return ch;
})();
