// Site-wide behaviour: keyboard shortcuts with a help overlay, and the notification websocket.
// Kept small on purpose; page-specific code lives beside its page.
(function () {
  "use strict";

  // --- Keyboard shortcuts: "g" then a letter navigates; "/" focuses search; "?" toggles help.
  var pendingG = false;
  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    var help = document.getElementById("help-overlay");
    if (event.key === "?") {
      if (help.open) { help.close(); } else { help.showModal(); }
      event.preventDefault();
      return;
    }
    if (event.key === "/") {
      var search = document.querySelector("[data-search]");
      if (search) { search.focus(); event.preventDefault(); }
      return;
    }
    if (pendingG) {
      pendingG = false;
      var link = document.querySelector('[data-shortcut="g ' + event.key + '"]');
      if (link) { window.location.assign(link.getAttribute("href")); event.preventDefault(); }
      return;
    }
    if (event.key === "g") { pendingG = true; setTimeout(function () { pendingG = false; }, 1200); }
  });
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-help-toggle]")) {
      document.getElementById("help-overlay").showModal();
    }
  });

  // --- Notifications: the server pushes events; pages listen for "workbench:notification".
  function toast(text) {
    var box = document.getElementById("toasts");
    var item = document.createElement("div");
    item.className = "toast";
    item.textContent = text; // textContent: never interpret server strings as HTML
    box.appendChild(item);
    setTimeout(function () { item.remove(); }, 6000);
  }
  function connect(delay) {
    var path = document.body.dataset.notificationsUrl;
    if (!path || !window.WebSocket) return;
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + window.location.host + path);
    socket.addEventListener("message", function (message) {
      var payload = JSON.parse(message.data);
      if (payload.type !== "notification") return;
      document.body.dispatchEvent(new CustomEvent("workbench:notification", { detail: payload }));
      toast(payload.event.replace(/[._]/g, " "));
    });
    socket.addEventListener("open", function () { delay = 1000; });
    socket.addEventListener("close", function (event) {
      if (event.code === 4401) return; // signed out: do not retry
      setTimeout(function () { connect(Math.min(delay * 2, 30000)); }, delay);
    });
  }
  document.addEventListener("DOMContentLoaded", function () { connect(1000); });
})();
