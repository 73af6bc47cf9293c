// helpdesk-rs website embed. Paste into any page:
//   <script src="https://your-helpdesk/embed/widget.js" data-department="1" async></script>
// Renders a contact form after the script tag (or into the element named by
// data-target) that creates a ticket through the helpdesk's CORS endpoint.
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) return;
  var base = new URL(script.src, location.href).origin;
  var department = script.getAttribute("data-department");
  var started = Date.now();

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text) e.textContent = text;
    return e;
  }
  function field(label, input) {
    var l = el("label", { style: "display:flex;flex-direction:column;gap:3px;margin-bottom:8px" }, label);
    input.style.cssText = "font:inherit;padding:6px;border:1px solid #bbb;border-radius:4px";
    l.appendChild(input);
    return l;
  }

  var box = el("div", { class: "helpdesk-embed", style: "font:14px/1.4 system-ui,sans-serif;max-width:420px;border:1px solid #ccd;border-radius:8px;padding:14px;background:#fff;color:#222" });
  var form = el("form", { novalidate: "" });
  form.appendChild(el("h3", { style: "margin:0 0 10px" }, "Contact us"));
  var name = el("input", { name: "name", type: "text", autocomplete: "name" });
  var email = el("input", { name: "email", type: "email", autocomplete: "email" });
  var subject = el("input", { name: "subject", type: "text", maxlength: "255" });
  var message = el("textarea", { name: "message", rows: "5" });
  // Honeypot: hidden from people, filled in by bots.
  var website = el("input", { name: "website", type: "text", tabindex: "-1", autocomplete: "off", "aria-hidden": "true" });
  var trap = el("div", { style: "position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden" });
  trap.appendChild(website);
  form.appendChild(field("Your name", name));
  form.appendChild(field("Your email", email));
  form.appendChild(field("Subject", subject));
  form.appendChild(field("Message", message));
  // Files: picked, dropped on the form or pasted into the message.
  var picker = el("input", { name: "file", type: "file", multiple: "" });
  var pasted = [];
  var fileNote = el("small", { class: "helpdesk-embed-files", style: "display:block;color:#555;margin:-4px 0 8px" });
  form.appendChild(field("Attach files (optional)", picker));
  form.appendChild(fileNote);
  function chosen() { return Array.prototype.slice.call(picker.files).concat(pasted); }
  function listFiles() {
    var f = chosen();
    fileNote.textContent = f.length ? f.map(function (x) { return x.name; }).join(", ") : "";
  }
  picker.addEventListener("change", listFiles);
  message.addEventListener("paste", function (e) {
    var files = e.clipboardData && e.clipboardData.files;
    if (!files || !files.length) return;
    e.preventDefault();
    Array.prototype.forEach.call(files, function (f, i) {
      pasted.push(new File([f], "screenshot-" + (pasted.length + i + 1) + "." + ((f.type.split("/")[1] || "png").replace("jpeg", "jpg")), { type: f.type }));
    });
    listFiles();
  });
  form.addEventListener("dragover", function (e) { e.preventDefault(); });
  form.addEventListener("drop", function (e) {
    if (!e.dataTransfer || !e.dataTransfer.files.length) return;
    e.preventDefault();
    Array.prototype.push.apply(pasted, e.dataTransfer.files);
    listFiles();
  });
  form.appendChild(trap);
  var status = el("p", { class: "helpdesk-embed-status", role: "status", style: "margin:8px 0;min-height:1em" });
  var button = el("button", { type: "submit", style: "font:inherit;background:#2472c8;color:#fff;border:0;border-radius:4px;padding:7px 14px;cursor:pointer" }, "Send");
  form.appendChild(status);
  form.appendChild(button);
  box.appendChild(form);

  function show(text, ok) {
    status.textContent = text;
    status.style.color = ok ? "#1a7f37" : "#a40000";
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (!name.value.trim()) return show("Please enter your name.");
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email.value.trim())) return show("Please enter a valid email address.");
    if (!subject.value.trim()) return show("Please enter a subject.");
    if (!message.value.trim()) return show("Please enter a message.");
    button.disabled = true;
    show("Sending…", true);
    var body = {
      name: name.value, email: email.value, subject: subject.value, message: message.value,
      website: website.value, elapsed_ms: Date.now() - started
    };
    if (department) body.department = Number(department);
    var files = chosen();
    var request = { method: "POST", mode: "cors", credentials: "omit" };
    if (files.length) {
      // With files: a multipart form (the same fields, and each file).
      var data = new FormData();
      for (var k in body) data.append(k, String(body[k]));
      files.forEach(function (f) { data.append("file", f, f.name); });
      request.body = data;
    } else {
      request.headers = { "Content-Type": "application/json" };
      request.body = JSON.stringify(body);
    }
    fetch(base + "/api/embed/tickets", request).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (r.ok) {
          show(data.message || "Thank you! We received your message.", true);
          form.reset();
          pasted = [];
          listFiles();
        } else if (r.status === 429) {
          show("Too many messages from your network; please try again in a minute.");
        } else {
          show(data.message || "Sorry, your message could not be sent (error " + r.status + ").");
        }
      });
    }).catch(function () {
      show("Sorry, the helpdesk could not be reached. Please try again later.");
    }).then(function () { button.disabled = false; });
  });

  var target = script.getAttribute("data-target");
  var host = target && document.getElementById(target);
  if (host) host.appendChild(box);
  else script.parentNode.insertBefore(box, script.nextSibling);
})();
