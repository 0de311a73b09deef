// scimd console: progressive enhancement only. Without this script every action is a page with
// a form; with it, links marked data-dialog open their page's form in a modal <dialog>, the
// create form shows only the fields of the chosen scope, and Copy buttons copy a secret.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  var dialog = document.getElementById("console-dialog");
  var opener = null;

  function scopeFields(root) {
    var forms = root.querySelectorAll("form[data-scoped]");
    forms.forEach(function (form) {
      var select = form.querySelector("select[name=scope]");
      if (!select) { return; }
      var update = function () {
        form.querySelectorAll(".scope-only").forEach(function (set) {
          set.hidden = set.getAttribute("data-scope") !== select.value;
          set.disabled = set.hidden;
        });
      };
      select.addEventListener("change", update);
      update();
    });
  }

  function closeDialog() {
    if (dialog && dialog.open) { dialog.close(); }
  }

  if (dialog) {
    dialog.addEventListener("close", function () {
      dialog.innerHTML = "";
      if (opener) { opener.focus(); opener = null; }
    });
    dialog.addEventListener("click", function (event) {
      var cancel = event.target.closest("a.cancel");
      if (cancel) { event.preventDefault(); closeDialog(); }
    });
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest("a[data-dialog]");
    if (!link || !dialog || typeof dialog.showModal !== "function") { return; }
    if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) { return; }
    event.preventDefault();
    opener = link;
    fetch(link.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (res) {
        if (!res.ok) { throw new Error("status " + res.status); }
        return res.text();
      })
      .then(function (text) {
        var doc = new DOMParser().parseFromString(text, "text/html");
        var form = doc.querySelector("main form.dialog-form");
        if (!form) { window.location.href = link.href; return; }
        dialog.innerHTML = "";
        dialog.appendChild(document.importNode(form, true));
        var title = dialog.querySelector("#dialog-title");
        if (title) { dialog.setAttribute("aria-labelledby", "dialog-title"); }
        scopeFields(dialog);
        dialog.showModal();
        var first = dialog.querySelector("input:not([type=hidden]):not([disabled]), select, button");
        if (first) { first.focus(); }
      })
      .catch(function () { window.location.href = link.href; });
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy]");
    if (!button) { return; }
    var input = document.getElementById(button.getAttribute("data-copy"));
    if (!input) { return; }
    var done = function () {
      var label = button.textContent;
      button.textContent = button.getAttribute("data-copied") || label;
      button.setAttribute("aria-live", "polite");
      window.setTimeout(function () { button.textContent = label; }, 2000);
    };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(input.value).then(done, function () {
        input.select(); document.execCommand("copy"); done();
      });
    } else {
      input.select(); document.execCommand("copy"); done();
    }
  });

  scopeFields(document);
})();
