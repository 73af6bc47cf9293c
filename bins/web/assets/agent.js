// helpdesk-rs agent UI. Talks to /api/agent/* with the session cookie and the
// CSRF token from /api/agent/me. User content is inserted as text, except
// message bodies, which the server sanitised with ammonia (bodies_html).
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const state = { me: null, csrf: null, dir: null, filter: "all", tabs: [], active: null, tickets: {}, sub: {} };
  const STATUSES = ["awaiting_agent", "awaiting_user", "pending", "resolved"];

  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (v !== null && v !== undefined && v !== false) e.setAttribute(k, v === true ? "" : v);
    }
    for (const k of kids.flat()) if (k !== null && k !== undefined) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
    return e;
  }

  function flash(msg, err) {
    const f = $("flash");
    f.textContent = msg;
    f.className = "flash" + (err ? " err" : "");
    f.hidden = false;
    clearTimeout(flash.t);
    flash.t = setTimeout(() => (f.hidden = true), 4000);
  }

  async function api(method, path, body) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET" && state.csrf) headers["X-CSRF-Token"] = state.csrf;
    const r = await fetch(path, { method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body) });
    const data = await r.json().catch(() => ({}));
    if (!r.ok) {
      const e = new Error(data.message || r.statusText);
      e.status = r.status;
      e.data = data;
      throw e;
    }
    return data;
  }

  const agentName = (id) => (id == null ? "—" : ((state.dir.agents.find((a) => a.id === id) || {}).name || "agent " + id));
  const teamName = (id) => (id == null ? "—" : ((state.dir.teams.find((t) => t.id === id) || {}).name || "team " + id));
  const deptName = (id) => ((state.dir.departments.find((d) => d.id === id) || {}).name || "department " + id);
  const when = (s) => new Date(s).toLocaleString();

  async function start() {
    try {
      const me = await api("GET", "/api/agent/me");
      await enter(me);
    } catch (e) {
      $("login").hidden = false;
    }
  }

  async function enter(me) {
    state.me = me.agent;
    state.csrf = me.csrf_token;
    state.dir = await api("GET", "/api/agent/directory");
    $("login").hidden = true;
    $("app").hidden = false;
    $("me-name").textContent = state.me.name;
    await refreshFilters();
    await openFilter(state.filter);
    listen();
  }

  $("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const me = await api("POST", "/api/agent/login", { email: $("login-email").value, password: $("login-password").value });
      await enter(me);
    } catch (e) {
      $("login-error").textContent = e.message;
      $("login-error").hidden = false;
    }
  });

  $("logout").addEventListener("click", async () => {
    await api("POST", "/api/agent/logout", {}).catch(() => {});
    location.reload();
  });

  async function refreshFilters() {
    const fs = await api("GET", "/api/agent/filters");
    const ul = $("filter-list");
    ul.replaceChildren();
    let group = null;
    for (const f of fs) {
      const li = el("li", { "data-filter": f.id, class: (f.id === state.filter ? "active " : "") + (group && group !== f.group ? "sep" : ""), onclick: () => openFilter(f.id) },
        el("span", {}, f.title), el("span", { class: "count" }, f.count));
      group = f.group;
      ul.append(li);
    }
  }

  async function openFilter(id) {
    state.filter = id;
    document.querySelectorAll("#filter-list li").forEach((li) => li.classList.toggle("active", li.dataset.filter === id));
    const r = await api("GET", "/api/agent/filters/" + encodeURIComponent(id) + "/tickets?limit=100");
    $("list-title").textContent = r.title + " (" + r.total + ")";
    renderList(r.tickets);
  }

  function renderList(tickets) {
    const ul = $("ticket-list");
    ul.replaceChildren();
    if (!tickets.length) ul.append(el("li", { class: "empty" }, "No tickets here."));
    for (const t of tickets) {
      ul.append(el("li", { "data-ticket": t.id, onclick: () => openTicket(t.id) },
        el("div", { class: "subject" }, el("span", { class: "urgency" + (t.urgency >= 7 ? " high" : "") }, t.urgency), "#" + t.id + " " + t.subject),
        el("div", { class: "meta" }, t.user_name + " · " + deptName(t.department) + " · " + t.status.replace(/_/g, " ") + " · " + agentName(t.agent))));
    }
  }

  $("search-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const q = $("search").value.trim();
    if (!q) return;
    try {
      const r = await api("GET", "/api/agent/search?q=" + encodeURIComponent(q));
      if (r.tickets.length === 1 && /^#?\d+$/.test(q)) openTicket(r.tickets[0].id);
      else { $("list-title").textContent = "Search: " + q; renderList(r.tickets); }
    } catch (e) {
      flash(e.message, true);
    }
  });

  async function openTicket(id) {
    try {
      state.tickets[id] = await api("GET", "/api/agent/tickets/" + id);
    } catch (e) {
      flash(e.message, true);
      return;
    }
    if (!state.tabs.includes(id)) state.tabs.push(id);
    state.active = id;
    render();
  }

  // Reloads an open tab after someone else changed its ticket, without
  // switching tabs or losing a reply being written.
  async function refreshTicket(id) {
    let d;
    try {
      d = await api("GET", "/api/agent/tickets/" + id);
    } catch (e) {
      return;
    }
    if (!state.tabs.includes(id)) return;
    state.tickets[id] = d;
    if (state.active !== id) return;
    const box = $("reply-body");
    const draft = box ? box.value : "";
    render();
    if (draft && $("reply-body")) $("reply-body").value = draft;
  }

  function closeTab(id) {
    state.tabs = state.tabs.filter((t) => t !== id);
    if (state.active === id) state.active = state.tabs[state.tabs.length - 1] || null;
    render();
  }

  function render() {
    const tabs = $("tabs");
    tabs.replaceChildren();
    for (const id of state.tabs) {
      const d = state.tickets[id];
      tabs.append(el("div", { class: "tab" + (id === state.active ? " active" : ""), role: "tab", "data-tab": id, onclick: () => { state.active = id; render(); } },
        "#" + id + " " + d.ticket.subject, el("span", { class: "close", title: "Close", onclick: (ev) => { ev.stopPropagation(); closeTab(id); } }, "×")));
    }
    const body = $("tab-body");
    body.replaceChildren();
    if (state.active == null) { body.append(el("p", { class: "empty" }, "Open a ticket from the list, or type its id in the search box.")); return; }
    body.append(renderTicket(state.tickets[state.active]));
  }

  // Runs a change with the version the agent saw; a 409 reloads the ticket.
  async function change(id, path, payload) {
    const d = state.tickets[id];
    try {
      state.tickets[id] = await api("POST", "/api/agent/tickets/" + id + path, Object.assign({ version: d.ticket.version }, payload));
      render();
      refreshFilters();
      openFilter(state.filter);
      return true;
    } catch (e) {
      if (e.status === 409 && e.data.error === "conflict") {
        flash("Someone else changed this ticket (now version " + e.data.current_version + "); reloaded it.", true);
        await openTicket(id);
      } else flash(e.message, true);
      return false;
    }
  }
  const command = (id, cmd) => change(id, "/commands", cmd);

  function select(options, value, onchange, attrs) {
    const s = el("select", Object.assign({ onchange: (ev) => onchange(ev.target.value) }, attrs || {}));
    for (const [v, label] of options) s.append(el("option", { value: v, selected: String(v) === String(value) }, label));
    return s;
  }

  function renderTicket(d) {
    const t = d.ticket, id = t.id;
    const dept = state.dir.departments.find((x) => x.id === t.department) || { fields: [] };
    const sub = state.sub[id] || "messages";
    const props = el("div", { class: "props" },
      el("label", {}, "Status", select(["awaiting_agent", "awaiting_user", "pending", "resolved", "spam", "deleted"].map((s) => [s, s.replace(/_/g, " ")]), t.status,
        (v) => command(id, v === "spam" ? { command: "mark_spam" } : v === "deleted" ? { command: "delete" } : { command: "set_status", status: v }), { name: "status" })),
      el("label", {}, "Urgency", select([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((u) => [u, u]), t.urgency, (v) => command(id, { command: "set_urgency", urgency: Number(v) }), { name: "urgency" })),
      el("label", {}, "Department", select(state.dir.departments.map((x) => [x.id, x.name]), t.department, (v) => command(id, { command: "set_department", department: Number(v) }))),
      el("label", {}, "Agent", select([["", "—"]].concat(state.dir.agents.filter((a) => !a.disabled).map((a) => [a.id, a.name])), t.agent ?? "",
        (v) => command(id, { command: "assign_agent", agent: v === "" ? null : Number(v) }), { name: "agent" })),
      el("label", {}, "Team", select([["", "—"]].concat(state.dir.teams.map((x) => [x.id, x.name])), t.team ?? "", (v) => command(id, { command: "assign_team", team: v === "" ? null : Number(v) }))),
      el("label", {}, "User", el("span", {}, d.user.name + " <" + d.user.emails[0] + ">")),
      el("label", {}, "Followers", el("span", { class: "chips" }, t.followers.map((a) => el("span", {}, agentName(a), el("button", { title: "Unfollow", onclick: () => command(id, { command: "unfollow", agent: a }) }, "×"))),
        t.followers.includes(state.me.id) ? null : el("button", { type: "button", onclick: () => command(id, { command: "follow", agent: state.me.id }) }, "Follow"))),
      el("label", {}, "CCs", el("span", { class: "chips" }, d.ccs.map((u) => el("span", {}, u.name, el("button", { title: "Remove CC", onclick: () => command(id, { command: "remove_cc", user: u.id }) }, "×"))),
        el("input", { type: "email", placeholder: "add CC email", onchange: (ev) => change(id, "/cc", { email: ev.target.value }) }))),
      el("label", {}, "Labels", el("span", { class: "chips" }, t.labels.map((l) => el("span", {}, l, el("button", { title: "Remove", onclick: () => command(id, { command: "remove_label", label: l }) }, "×"))),
        el("input", { type: "text", placeholder: "add label", onchange: (ev) => command(id, { command: "add_label", label: ev.target.value }) }))),
      dept.fields.map((f) => el("label", {}, f.label + (f.agent_only ? " (agents)" : ""), fieldInput(id, f, t.fields[f.key]))));

    const subtabs = el("div", { class: "subtabs" }, [["messages", "Messages & notes"], ["log", "Full log"]].map(([k, label]) =>
      el("button", { type: "button", class: k === sub ? "active" : "", onclick: () => { state.sub[id] = k; render(); } }, label)));

    let main;
    if (sub === "log") {
      main = el("table", { class: "log" }, d.log.map((e) => el("tr", {}, el("td", {}, "v" + e.version), el("td", {}, when(e.at)), el("td", {}, actorName(e.actor)), el("td", {}, describe(e.change)))));
    } else {
      const posts = t.messages.map((m) => ({ kind: "message", p: m })).concat(t.notes.map((n) => ({ kind: "note", p: n }))).sort((a, b) => a.p.id - b.p.id);
      main = el("div", { class: "posts" }, posts.map(({ kind, p }) => {
        const who = kind === "note" ? (p.agent == null ? "system" : agentName(p.agent)) + " (note)" : p.author.agent != null ? agentName(p.author.agent) : userName(d, p.author.user);
        const b = el("div", { class: "body" });
        b.innerHTML = d.bodies_html[p.id] || ""; // sanitised by the server (ammonia)
        return el("article", { class: "post " + (kind === "note" ? "note" : p.author && p.author.agent != null ? "agent" : "user") }, el("header", {}, who + " · " + when(p.at)), b);
      }));
    }

    const text = el("textarea", { rows: 5, id: "reply-body", placeholder: "Write a reply or a note" });
    const status = select([["", "reply: awaiting user"], ["resolved", "reply and resolve"], ["pending", "reply: pending"], ["awaiting_agent", "reply: awaiting agent"]], "", () => {}, { id: "reply-status" });
    const composer = el("div", { class: "composer" }, text, el("div", { class: "row" }, status,
      el("button", { type: "button", id: "send-reply", onclick: async () => {
        if (await change(id, "/reply", { body: text.value, status: status.value || null })) flash("Reply sent");
      } }, "Send reply"),
      el("button", { type: "button", id: "add-note", onclick: async () => {
        if (await change(id, "/notes", { body: text.value })) flash("Note added");
      } }, "Add note")));

    return el("div", { class: "ticket", "data-ticket": id },
      el("h1", {}, "#" + id + " " + t.subject),
      el("div", { class: "meta" }, "version " + t.version + " · " + t.channel + " · opened " + when(t.created_at)),
      props, subtabs, main, composer);
  }

  function fieldInput(id, f, cur) {
    const set = (value) => command(id, { command: "set_field", key: f.key, value });
    const v = cur ? cur.value : "";
    const k = f.type;
    if (k === "choice") return select([["", "—"]].concat(f.options.map((o) => [o, o])), v, (x) => set(x === "" ? null : { type: "choice", value: x }));
    const type = k === "number" ? "number" : k === "date" ? "date" : "text";
    return el("input", { type, value: v, onchange: (ev) => set(ev.target.value === "" ? null : { type: k, value: k === "number" ? Number(ev.target.value) : ev.target.value }) });
  }

  function userName(d, uid) {
    if (d.user.id === uid) return d.user.name;
    const c = d.ccs.find((u) => u.id === uid);
    return c ? c.name : "user " + uid;
  }

  function actorName(a) {
    if (a.agent != null) return agentName(a.agent);
    if (a.user != null) return "user " + a.user;
    if (a.system) return "system" + (a.system.name ? " (" + a.system.name + ")" : "");
    return JSON.stringify(a);
  }

  function describe(c) {
    switch (c.type) {
      case "message_added": return "message #" + c.message.id;
      case "note_added": return "note #" + c.note.id;
      case "created": return "created: " + c.subject;
      default: {
        const rest = Object.assign({}, c);
        delete rest.type;
        return c.type.replace(/_/g, " ") + " " + JSON.stringify(rest);
      }
    }
  }

  // The notifications bay lists this agent's in-app notifications (their
  // subscriptions decide); "ticket" events of changes by others refresh the
  // filter counts and any open tab that is behind.
  const seen = new Set();
  function bayAdd(n, fresh) {
    const id = n.key.ticket + ":" + n.key.version + ":" + n.key.seq;
    if (seen.has(id)) return;
    seen.add(id);
    const list = $("bay-list");
    const li = el("li", { "data-ticket": n.ticket, onclick: () => { list.hidden = true; openTicket(n.ticket); } },
      el("div", {}, "#" + n.ticket + " " + n.subject),
      el("div", { class: "meta" }, n.reason.replace(/_/g, " ") + " · " + when(n.at)));
    if (fresh) list.prepend(li); else list.append(li);
    if (fresh) $("bay-count").textContent = String(Number($("bay-count").textContent) + 1);
  }
  async function listen() {
    // The stream opens first, so nothing delivered meanwhile is missed
    // (the history and the stream may overlap: bayAdd skips what it has).
    const es = new EventSource("/api/agent/events");
    es.addEventListener("notification", (ev) => {
      const n = JSON.parse(ev.data);
      bayAdd(n, true);
      refreshFilters();
      if (state.tabs.includes(n.ticket)) refreshTicket(n.ticket);
    });
    es.addEventListener("ticket", (ev) => {
      const n = JSON.parse(ev.data);
      refreshFilters();
      if (state.tabs.includes(n.ticket) && state.tickets[n.ticket].ticket.version < n.version) refreshTicket(n.ticket);
    });
    try {
      for (const n of await api("GET", "/api/agent/notifications")) bayAdd(n, false);
    } catch (e) { /* the live stream still works */ }
  }
  $("bay-button").addEventListener("click", () => {
    const list = $("bay-list");
    list.hidden = !list.hidden;
    if (!list.hidden) $("bay-count").textContent = "0";
  });

  start();
})();
