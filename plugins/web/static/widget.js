/* contacthub web chat loader: one <script src=".../channels/web/widget.js" async> adds a launcher
   button and the chat frame. Everything else runs inside the frame, isolated from the host page. */
(function () {
  "use strict";
  if (window.__contacthubWidget) { return; }
  window.__contacthubWidget = true;
  var script = document.currentScript;
  if (!script || !script.src) { return; }
  var hub = new URL(script.src);
  var base = hub.origin + hub.pathname.replace(/\/widget\.js$/, "");

  function style(el, rules) {
    Object.keys(rules).forEach(function (k) { el.style[k] = rules[k]; });
  }

  function bubbleIcon() {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "26");
    svg.setAttribute("height", "26");
    svg.setAttribute("aria-hidden", "true");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("fill", "currentColor");
    path.setAttribute("d", "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z");
    svg.appendChild(path);
    return svg;
  }

  function mount() {
    var button = document.createElement("button");
    button.id = "contacthub-launcher";
    button.type = "button";
    button.setAttribute("aria-label", "Chat");
    button.setAttribute("aria-expanded", "false");
    // An SVG, not an emoji: the host page may have no emoji font.
    button.appendChild(bubbleIcon());
    style(button, {
      position: "fixed", right: "20px", bottom: "20px", width: "56px", height: "56px",
      borderRadius: "50%", border: "0", background: "#1f5fbf", color: "#fff", fontSize: "24px",
      cursor: "pointer", boxShadow: "0 2px 10px rgba(0,0,0,.25)", zIndex: "2147483000"
    });
    var frame = null;

    function open() {
      if (!frame) {
        frame = document.createElement("iframe");
        frame.id = "contacthub-frame";
        frame.title = "Chat";
        frame.src = base + "/frame";
        frame.setAttribute("allow", "clipboard-write");
        style(frame, {
          position: "fixed", right: "20px", bottom: "88px", width: "360px", height: "520px",
          maxWidth: "calc(100vw - 40px)", maxHeight: "calc(100vh - 110px)", border: "0",
          borderRadius: "10px", boxShadow: "0 4px 24px rgba(0,0,0,.25)", background: "#fff",
          zIndex: "2147483000"
        });
        document.body.appendChild(frame);
      }
      frame.style.display = "block";
      button.setAttribute("aria-expanded", "true");
      frame.contentWindow && frame.contentWindow.postMessage({ type: "contacthub:shown" }, hub.origin);
    }

    function close() {
      if (frame) { frame.style.display = "none"; }
      button.setAttribute("aria-expanded", "false");
    }

    button.addEventListener("click", function () {
      if (frame && frame.style.display !== "none") { close(); } else { open(); }
    });
    window.addEventListener("message", function (event) {
      // Only the hub's own frame may ask the host page to do anything, and only this.
      if (event.origin !== hub.origin || !event.data || typeof event.data !== "object") { return; }
      if (event.data.type === "contacthub:close") { close(); }
    });
    document.body.appendChild(button);
  }

  if (document.body) { mount(); } else { document.addEventListener("DOMContentLoaded", mount); }
})();
