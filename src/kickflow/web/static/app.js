/* KickFlow QC — shared progressive enhancement. Every page works without it.
 *
 *   kf.csrfToken()               the page's CSRF token (<meta name="csrf-token">)
 *   kf.fetch(url, options)       fetch() with the X-CSRF-Token header and same-origin cookies
 *   kf.post(url, body)           POST JSON; resolves to the parsed answer, rejects with an
 *                                Error whose .message is the server's sentence and .status
 *   kf.flash(message, kind)      show a message in the flash area (kind: ok|error|warn|info)
 *   kf.confirm(message, label)   a Promise<boolean> from a modal confirmation dialog
 *   <button data-confirm="Revoke this token?" data-confirm-label="Revoke">  asks before the
 *                                form is sent (or the link followed)
 *   <button data-copy="#id">     copies the text of #id to the clipboard
 */
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function kfFetch(url, options) {
    var opts = Object.assign({ credentials: "same-origin" }, options || {});
    var headers = new Headers(opts.headers || {});
    if (!headers.has("X-CSRF-Token")) headers.set("X-CSRF-Token", csrfToken());
    opts.headers = headers;
    return window.fetch(url, opts);
  }

  function errorFrom(response, body) {
    var message = body && body.error && body.error.message;
    var error = new Error(message || "The server answered " + response.status + ".");
    error.status = response.status;
    error.code = body && body.error && body.error.code;
    return error;
  }

  function post(url, body) {
    return kfFetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body === undefined ? {} : body),
    }).then(function (response) {
      return response.text().then(function (text) {
        var parsed = null;
        try { parsed = text ? JSON.parse(text) : null; } catch (ignored) { parsed = null; }
        if (!response.ok) throw errorFrom(response, parsed);
        return parsed;
      });
    });
  }

  function flash(message, kind) {
    var area = document.getElementById("flash");
    if (!area) return;
    var p = document.createElement("p");
    p.className = "flash flash-" + (kind || "ok");
    p.setAttribute("role", kind === "error" ? "alert" : "status");
    p.textContent = message;
    area.replaceChildren(p);
  }

  function confirmDialog(message, label) {
    return new Promise(function (resolve) {
      var dialog = document.createElement("dialog");
      dialog.className = "confirm-dialog";
      var text = document.createElement("p");
      text.textContent = message;
      var actions = document.createElement("div");
      actions.className = "actions";
      var cancel = document.createElement("button");
      cancel.type = "button";
      cancel.className = "btn";
      cancel.textContent = "Cancel";
      var ok = document.createElement("button");
      ok.type = "button";
      ok.className = "btn btn-primary";
      ok.textContent = label || "Confirm";
      actions.append(cancel, ok);
      dialog.append(text, actions);
      document.body.appendChild(dialog);
      var answered = false;
      function finish(value) {
        if (answered) return;
        answered = true;
        dialog.close();
        dialog.remove();
        resolve(value);
      }
      cancel.addEventListener("click", function () { finish(false); });
      ok.addEventListener("click", function () { finish(true); });
      dialog.addEventListener("cancel", function () { finish(false); });
      dialog.showModal();
      ok.focus();
    });
  }

  function onConfirmClick(event) {
    var el = event.target.closest("[data-confirm]");
    if (!el || el.dataset.confirmed === "yes") return;
    event.preventDefault();
    confirmDialog(el.dataset.confirm, el.dataset.confirmLabel).then(function (yes) {
      if (!yes) return;
      var form = el.form || el.closest("form");
      if (el.tagName === "A") {
        window.location.assign(el.href);
      } else if (form) {
        el.dataset.confirmed = "yes";
        if (form.requestSubmit) form.requestSubmit(el.type === "submit" ? el : undefined);
        else form.submit();
        delete el.dataset.confirmed;
      } else {
        el.dataset.confirmed = "yes";
        el.click();
        delete el.dataset.confirmed;
      }
    });
  }

  function onCopyClick(event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var source = document.querySelector(button.dataset.copy);
    if (!source || !navigator.clipboard) return;
    navigator.clipboard.writeText(source.textContent.trim()).then(
      function () { flash("Copied to the clipboard.", "ok"); },
      function () { flash("Could not copy: select the text and copy it by hand.", "warn"); }
    );
  }

  // Copy buttons are hidden in the markup: without JavaScript they would do nothing.
  document.querySelectorAll("[data-copy]").forEach(function (b) { b.hidden = false; });
  document.addEventListener("click", onConfirmClick);
  document.addEventListener("click", onCopyClick);

  window.kf = { csrfToken: csrfToken, fetch: kfFetch, post: post, flash: flash, confirm: confirmDialog };
})();
