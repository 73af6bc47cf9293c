// Attaching files, shared by the agent workspace and the user portal.
// Every <input type="file" data-files> gets: files dropped on its form or
// pasted into it (a screenshot from the clipboard) added to the input, a
// list of the chosen files with a remove button each, and the size limits
// (data-max-file, data-max-total, data-max-count) checked before sending.
// Without JavaScript the plain file input still works.
(function () {
  "use strict";

  function size(n) {
    if (n < 1024) return n + " bytes";
    var units = ["KB", "MB", "GB"], v = n / 1024, u = 0;
    while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
    return (v < 10 && v % 1 >= 0.05 ? v.toFixed(1) : Math.round(v)) + " " + units[u];
  }

  function stamp() {
    var d = new Date(), p = function (x) { return (x < 10 ? "0" : "") + x; };
    return d.getFullYear() + p(d.getMonth() + 1) + p(d.getDate()) + "-" + p(d.getHours()) + p(d.getMinutes()) + p(d.getSeconds());
  }

  function enhance(input) {
    if (input.dataset.enhanced) return;
    input.dataset.enhanced = "1";
    // The label becomes the button; the list below says what was chosen.
    input.parentElement.classList.toggle("enhanced", input.parentElement.classList.contains("attach"));
    var form = input.form;
    var maxFile = +input.dataset.maxFile || Infinity;
    var maxTotal = +input.dataset.maxTotal || Infinity;
    var maxCount = +input.dataset.maxCount || Infinity;
    var chosen = [];
    var list = document.createElement("ul");
    list.className = "chosen-files";
    list.setAttribute("aria-label", "Files to send");
    var alert = document.createElement("p");
    alert.className = "files-error";
    alert.setAttribute("role", "alert");
    if (input.parentElement.classList.contains("attach")) {
      input.parentElement.append(list, alert);
    } else {
      input.insertAdjacentElement("afterend", alert);
      input.insertAdjacentElement("afterend", list);
    }

    function sync() {
      var dt = new DataTransfer();
      chosen.forEach(function (f) { dt.items.add(f); });
      input.files = dt.files;
      list.textContent = "";
      chosen.forEach(function (f, i) {
        var li = document.createElement("li");
        var name = document.createElement("span");
        name.className = "file-name";
        name.textContent = f.name;
        var meta = document.createElement("span");
        meta.className = "muted";
        meta.textContent = " " + size(f.size) + " ";
        var x = document.createElement("button");
        x.type = "button";
        x.className = "file-remove";
        x.textContent = "Remove";
        x.setAttribute("aria-label", "Remove " + f.name);
        x.addEventListener("click", function () { chosen.splice(i, 1); sync(); input.focus(); });
        li.append(name, meta, x);
        list.appendChild(li);
      });
    }

    function add(files) {
      var problems = [];
      var total = chosen.reduce(function (s, f) { return s + f.size; }, 0);
      Array.prototype.forEach.call(files, function (f) {
        if (f.name === "image.png" || !f.name) {
          // A pasted screenshot: give it a name that says when.
          f = new File([f], "screenshot-" + stamp() + "." + ((f.type.split("/")[1] || "png").replace("jpeg", "jpg")), { type: f.type });
        }
        if (chosen.length >= maxCount) problems.push(f.name + ": at most " + maxCount + " files per message");
        else if (f.size > maxFile) problems.push(f.name + " is too large: a file may be at most " + size(maxFile));
        else if (total + f.size > maxTotal) problems.push(f.name + ": the files would come to " + size(total + f.size) + "; at most " + size(maxTotal) + " per message");
        else { chosen.push(f); total += f.size; }
      });
      alert.textContent = problems.join(". ");
      sync();
    }

    input.addEventListener("change", function () {
      var picked = Array.prototype.slice.call(input.files);
      // The input now holds only the new pick: add it to what was chosen.
      add(picked);
    });
    form.addEventListener("dragover", function (e) {
      if (e.dataTransfer && Array.prototype.indexOf.call(e.dataTransfer.types, "Files") >= 0) {
        e.preventDefault();
        form.classList.add("dropping");
      }
    });
    form.addEventListener("dragleave", function (e) {
      if (!form.contains(e.relatedTarget)) form.classList.remove("dropping");
    });
    form.addEventListener("drop", function (e) {
      if (!e.dataTransfer || !e.dataTransfer.files.length) return;
      e.preventDefault();
      form.classList.remove("dropping");
      add(e.dataTransfer.files);
    });
    form.addEventListener("paste", function (e) {
      var files = e.clipboardData && e.clipboardData.files;
      if (files && files.length) {
        e.preventDefault();
        add(files);
      }
    });
    form.addEventListener("submit", function (e) {
      var total = chosen.reduce(function (s, f) { return s + f.size; }, 0);
      if (total > maxTotal) { e.preventDefault(); alert.textContent = "The files come to " + size(total) + "; at most " + size(maxTotal) + " per message."; }
    });
  }

  function scan(root) {
    (root.querySelectorAll ? root : document).querySelectorAll("input[type=file][data-files]").forEach(enhance);
  }
  document.addEventListener("DOMContentLoaded", function () { scan(document); });
  document.addEventListener("htmx:load", function (e) { scan(e.target); });
  if (document.readyState !== "loading") scan(document);
})();
