/* The job page, live: while the job is queued, running or paused, follow the organisation's
 * event stream (one EventSource, /api/qc/events) and show this job's state, phase and progress
 * as they change; when its state changes, fetch the page again and swap in its parts
 * ([data-part]: banner, buttons, what to do next, report, history). Without JavaScript the page
 * is complete as served; reload it to see the latest. */
(function () {
  "use strict";

  var ACTIVE = ["queued", "running", "paused"];
  var article = document.getElementById("job");
  if (!article || !window.EventSource) return;
  var jobId = article.dataset.jobId;
  var shown = article.dataset.state;
  var stream = null;
  var refreshing = false;

  function live(name) { return article.querySelector('[data-live="' + name + '"]'); }

  function showProgress(event) {
    var state = live("state");
    var badge = state && state.querySelector(".badge");
    if (badge) {
      badge.className = "badge badge-" + event.state;
      badge.textContent = event.state;
    }
    var phase = live("phase");
    if (phase) phase.textContent = event.phase || "waiting";
    var bar = live("progress");
    var label = live("progress-label");
    var pct = Math.round(event.progress || 0);
    if (bar) {
      bar.value = (event.progress || 0) / 100;
      bar.textContent = pct + " %";
    }
    if (label) label.textContent = pct + " %";
  }

  function swapParts(html) {
    var fresh = new DOMParser().parseFromString(html, "text/html");
    var next = fresh.getElementById("job");
    if (!next) return;
    next.querySelectorAll("[data-part]").forEach(function (part) {
      var old = article.querySelector('[data-part="' + part.dataset.part + '"]');
      if (old) old.replaceWith(document.importNode(part, true));
    });
    shown = next.dataset.state;
    article.dataset.state = shown;
    document.title = fresh.title || document.title;
  }

  function refresh() {
    if (refreshing) return;
    refreshing = true;
    window.kf.fetch(window.location.pathname, { headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) throw new Error("The page answered " + response.status + ".");
        return response.text();
      })
      .then(function (html) {
        swapParts(html);
        if (ACTIVE.indexOf(shown) < 0) stop();
      })
      .catch(function () {
        window.kf.flash("The job changed; reload the page to see it.", "info");
      })
      .then(function () { refreshing = false; });
  }

  function onJob(message) {
    var event;
    try { event = JSON.parse(message.data); } catch (ignored) { return; }
    if (!event || event.id !== jobId) return;
    showProgress(event);
    if (event.state !== shown) refresh();
  }

  function stop() {
    if (stream) stream.close();
    stream = null;
  }

  function follow() {
    stream = new EventSource("/api/qc/events");
    stream.addEventListener("job", onJob);
    // A change between page load and the stream's start: look once the stream is ready.
    stream.addEventListener("ready", function once(ready) {
      ready.target.removeEventListener("ready", once);
      window.kf.fetch("/api/qc/progress?jobId=" + encodeURIComponent(jobId), {
        headers: { Accept: "application/json" },
      }).then(function (response) {
        return response.ok ? response.json() : null;
      }).then(function (event) {
        if (event) onJob({ data: JSON.stringify(event) });
      }).catch(function () { /* the stream carries the next change anyway */ });
    });
  }

  if (ACTIVE.indexOf(shown) >= 0) follow();
  window.addEventListener("pagehide", stop);
  window.addEventListener("pageshow", function (event) {
    if (event.persisted && !stream && ACTIVE.indexOf(shown) >= 0) follow();
  });
})();
