// The agent workspace's own script (no dependencies besides htmx): the time
// zone cookie, the phone/tablet pane switch, the menu, and keyboard shortcuts.
// Everything works without it; it only adds comfort.
(function () {
  "use strict";

  // The browser's time zone, for the server to render times in.
  try {
    var tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (tz && document.cookie.indexOf("hd_tz=" + encodeURIComponent(tz)) < 0) {
      document.cookie = "hd_tz=" + encodeURIComponent(tz) + "; path=/; max-age=31536000; SameSite=Strict";
    }
  } catch (e) { /* no Intl: times stay in UTC, as the page says */ }

  function viewFromPath() {
    var p = location.pathname;
    if (/^\/agent\/(tickets|users|organisations)\//.test(p)) return "content";
    if (/^\/agent\/profile(\/|$)/.test(p)) return "content";
    // Admin: its sections first on a phone, then the screen.
    if (/^\/agent\/admin\/?$/.test(p)) return "filters";
    if (/^\/agent\/admin\//.test(p)) return "content";
    if (/^\/agent\/custom-filters\/(new|\d+\/(edit|delete))$/.test(p)) return "content";
    if (p === "/agent/filters" || p === "/agent/filters/") return "filters";
    return "list";
  }

  function setView() {
    if (document.body && !document.body.classList.contains("bare")) {
      document.body.setAttribute("data-view", viewFromPath());
    }
  }

  function closeMenu() {
    document.body.classList.remove("menu-open");
    var b = document.getElementById("menu-toggle");
    if (b) b.setAttribute("aria-expanded", "false");
  }

  document.addEventListener("htmx:afterSettle", setView);
  document.addEventListener("htmx:historyRestore", setView);
  window.addEventListener("popstate", setView);

  document.addEventListener("click", function (e) {
    // A choice in a drop-down menu (the profile menu) closes it.
    var item = e.target.closest ? e.target.closest("details.menu .dropdown a") : null;
    if (item) item.closest("details").removeAttribute("open");
    var t = e.target.closest ? e.target.closest("#menu-toggle, #shortcuts-button, .filter") : null;
    if (!t) return;
    if (t.id === "menu-toggle") {
      var open = document.body.classList.toggle("menu-open");
      t.setAttribute("aria-expanded", open ? "true" : "false");
    } else if (t.id === "shortcuts-button") {
      var d = document.getElementById("shortcuts");
      if (d && d.showModal) d.showModal();
    } else {
      closeMenu();
    }
  });

  // Composer: the mode toggle changes the form's look and hint.
  document.addEventListener("change", function (e) {
    var t = e.target;
    if (t.name === "mode" && t.form) {
      t.form.setAttribute("data-mode", t.value);
      signature(t.form, t.value);
    }
  });

  // The signature goes under a reply, not a note: added or taken away as
  // the mode changes, unless the agent has written around it.
  function signature(form, mode) {
    var sig = form.getAttribute("data-signature");
    var body = form.querySelector("textarea.composer-body");
    if (!sig || !body) return;
    var under = "\n\n" + sig;
    if (mode === "note" && body.value === under) body.value = "";
    else if (mode === "reply" && body.value === "") body.value = under;
  }

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("#ticket-list a.row"));
  }

  function moveRow(step) {
    var list = rows();
    if (!list.length) return;
    var i = list.indexOf(document.activeElement);
    var next = i < 0 ? (step > 0 ? 0 : list.length - 1) : Math.min(list.length - 1, Math.max(0, i + step));
    list[next].focus();
  }

  function ticket() {
    return document.querySelector("#content article.ticket");
  }

  function compose(mode) {
    var t = ticket();
    if (!t) return;
    var radio = t.querySelector("input[name=mode][value=" + mode + "]");
    if (radio) {
      radio.checked = true;
      radio.form.setAttribute("data-mode", mode);
      signature(radio.form, mode);
    }
    var body = t.querySelector("textarea.composer-body");
    if (body) body.focus();
  }

  function press(selector) {
    var t = ticket();
    var b = t && t.querySelector(selector);
    if (b) b.click();
  }

  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    var el = e.target;
    var typing = el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
    if (e.key === "Escape") {
      closeMenu();
      if (typing && el.blur) el.blur();
      return;
    }
    if (typing) return;
    switch (e.key) {
      case "j": moveRow(1); break;
      case "k": moveRow(-1); break;
      case "r": compose("reply"); break;
      case "n": compose("note"); break;
      case "a": press("[data-shortcut=a]"); break;
      case "e": press("[data-shortcut=e]"); break;
      case "x": press(".tab.active .tab-close"); break;
      case "/": var s = document.getElementById("search"); if (s) s.focus(); break;
      case "?": var d = document.getElementById("shortcuts"); if (d && d.showModal) d.showModal(); break;
      default: return;
    }
    e.preventDefault();
  });

  document.addEventListener("DOMContentLoaded", setView);
})();
