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
    if (/^\/agent\/people(\/|$)/.test(p)) return "content";
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

  // Snippets: ";" and a name in a reply or note opens a menu of the
  // snippets the agent may use; arrows move, Enter or Tab inserts the one
  // chosen, filled in for this ticket; Escape closes the menu.
  var snip = { menu: null, box: null, items: [], at: 0, start: -1, seq: 0 };

  function snipClose() {
    if (snip.menu) snip.menu.remove();
    if (snip.box) snip.box.removeAttribute("aria-activedescendant");
    snip.menu = null; snip.box = null; snip.items = []; snip.start = -1;
  }

  function snipShow(box, items, start) {
    snipClose();
    if (!items.length) return;
    snip.box = box; snip.items = items; snip.at = 0; snip.start = start;
    var menu = document.createElement("ul");
    menu.className = "snippet-menu";
    menu.id = "snippet-menu";
    menu.setAttribute("role", "listbox");
    menu.setAttribute("aria-label", "Snippets");
    items.forEach(function (s, i) {
      var li = document.createElement("li");
      li.id = "snippet-option-" + s.id;
      li.setAttribute("role", "option");
      var name = document.createElement("code");
      name.textContent = ";" + s.name;
      var title = document.createElement("span");
      title.textContent = " " + s.title + (s.category ? " · " + s.category : "");
      li.append(name, title);
      li.addEventListener("mousedown", function (e) { e.preventDefault(); snip.at = i; snipInsert(); });
      menu.appendChild(li);
    });
    box.insertAdjacentElement("afterend", menu);
    snip.menu = menu;
    snipMark();
  }

  function snipMark() {
    Array.prototype.forEach.call(snip.menu.children, function (li, i) {
      li.setAttribute("aria-selected", i === snip.at ? "true" : "false");
    });
    snip.box.setAttribute("aria-activedescendant", snip.menu.children[snip.at].id);
  }

  function snipInsert() {
    var box = snip.box, s = snip.items[snip.at], start = snip.start;
    var form = box && box.closest("form.composer");
    var id = form && form.id.replace("composer-", "");
    snipClose();
    if (!s || !id) return;
    fetch("/api/agent/tickets/" + id + "/snippets/" + s.id, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (filled) {
        if (!filled) return;
        var end = box.selectionStart;
        box.value = box.value.slice(0, start) + filled.text + box.value.slice(end);
        var caret = start + filled.text.length;
        box.setSelectionRange(caret, caret);
        box.focus();
        box.dispatchEvent(new Event("input", { bubbles: true }));
      });
  }

  document.addEventListener("input", function (e) {
    var box = e.target;
    if (!box.classList || !box.classList.contains("composer-body")) return;
    var before = box.value.slice(0, box.selectionStart);
    var m = /(^|\s);([a-z0-9_-]*)$/.exec(before);
    if (!m) { snipClose(); return; }
    var start = before.length - m[2].length - 1;
    var seq = ++snip.seq;
    fetch("/api/agent/snippets?q=" + encodeURIComponent(m[2]), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (list) { if (seq === snip.seq) snipShow(box, list.slice(0, 8), start); });
  });

  document.addEventListener("keydown", function (e) {
    if (!snip.menu || e.target !== snip.box) return;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      snip.at = (snip.at + (e.key === "ArrowDown" ? 1 : snip.items.length - 1)) % snip.items.length;
      snipMark();
    } else if (e.key === "Enter" || e.key === "Tab") {
      snipInsert();
    } else if (e.key === "Escape") {
      snipClose();
    } else {
      return;
    }
    e.preventDefault();
    e.stopImmediatePropagation();
  }, true);

  document.addEventListener("focusout", function (e) { if (e.target === snip.box) snipClose(); });

  document.addEventListener("DOMContentLoaded", setView);
})();
