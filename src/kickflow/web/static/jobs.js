/* Jobs page: live rows from ONE event stream, and the bulk form's selection.
 *
 * The stream (/api/qc/events) sends every change of the organisation's jobs. A row on the page
 * is updated in place (state, phase, progress, verdict, attempt). On the first page a job
 * created after the page was made that matches its filters is put at the top, from the row
 * <template> the server rendered. No polling: if the stream ends with an error the page
 * reconnects with growing pauses, then reads the shown rows once (/api/qc/progress) to catch
 * up. Without JavaScript the page is the same list, as of its loading.
 */
(function () {
  "use strict";

  var body = document.getElementById("jobs-body");
  var liveData = document.getElementById("jobs-live");
  if (!body || !liveData) return;
  var live = JSON.parse(liveData.textContent);
  var template = document.getElementById("job-row-template");
  var statusLine = document.getElementById("live-status");
  var loadedAt = Date.now();

  // --- rows ---------------------------------------------------------------------------------

  function cell(row, name) { return row.querySelector('[data-cell="' + name + '"]'); }

  function percent(job) { return Math.round(job.progress || 0); }

  function update(row, job) {
    var badge = cell(row, "state").querySelector(".badge");
    badge.className = "badge badge-" + job.state;
    badge.textContent = job.state;
    cell(row, "phase").textContent = job.phase || "—";
    var bar = cell(row, "progress").querySelector("progress");
    var label = cell(row, "progress").querySelector(".progress-label");
    bar.value = percent(job) / 100;
    bar.textContent = percent(job) + " %";
    bar.className = "progress" + (job.state === "completed" ? " is-done" : job.state === "failed" ? " is-failed" : "");
    label.textContent = percent(job) + " %";
    var verdict = cell(row, "verdict").firstElementChild;
    if (job.verdict) {
      verdict.className = "badge badge-" + job.verdict;
      verdict.textContent = job.verdict.replace(/_/g, " ");
    } else {
      verdict.className = "muted";
      verdict.textContent = "—";
    }
    var attempt = cell(row, "attempt");
    var max = job.maxAttempts === undefined ? attempt.textContent.split("/")[1] : job.maxAttempts;
    attempt.textContent = job.attempt + "/" + max;  // /api/qc/progress leaves maxAttempts out
  }

  function absolute(iso) { return iso ? iso.slice(0, 16).replace("T", " ") + " UTC" : "—"; }

  function fill(row, job) {
    row.dataset.jobId = job.id;
    var box = cell(row, "select");
    if (box) {
      box.value = job.id;
      box.setAttribute("aria-label", "Select " + job.fileName);
    }
    var link = cell(row, "link");
    link.href = "/jobs/" + encodeURIComponent(job.id);
    link.textContent = job.fileName;
    cell(row, "project").textContent = job.project || "—";
    cell(row, "profile").textContent = job.profile;
    cell(row, "progress").querySelector("progress").setAttribute("aria-label", "Progress of " + job.fileName);
    var time = cell(row, "submitted").querySelector("time");
    time.dateTime = job.createdAt;
    time.dataset.epoch = String(Date.parse(job.createdAt) / 1000);
    time.textContent = "just now";
    cell(row, "submitted").querySelector(".absolute").textContent = absolute(job.createdAt);
    update(row, job);
  }

  function rowOf(id) {
    var rows = body.querySelectorAll("tr[data-job-id]");
    for (var i = 0; i < rows.length; i++) if (rows[i].dataset.jobId === id) return rows[i];
    return null;
  }

  // --- which new jobs belong here: the store's filters (ASCII-only case folding, "from"
  // inclusive, "to" exclusive), as kickflow.jobs.listing reads them -----------------------------

  function fold(text) { return text.replace(/[A-Z]/g, function (c) { return c.toLowerCase(); }); }

  function matches(job, f) {
    var created = Date.parse(job.createdAt) / 1000;
    return (!f.state || job.state === f.state) &&
      (!f.verdict || job.verdict === f.verdict) &&
      (!f.project || job.project === f.project) &&
      (!f.profile || job.profile === f.profile) &&
      (!f.text || fold(job.fileName).indexOf(fold(f.text)) >= 0) &&
      (f.created_from === null || created >= f.created_from) &&
      (f.created_to === null || created < f.created_to);
  }

  function isNew(job) {
    return live.insert && Date.parse(job.createdAt) / 1000 >= live.since - 1 && matches(job, live.filters);
  }

  function insert(job) {
    var row = template.content.firstElementChild.cloneNode(true);
    fill(row, job);
    row.classList.add("is-new");
    var empty = body.querySelector(".empty-row");
    if (empty) empty.remove();
    body.insertBefore(row, body.firstElementChild);
    refreshSelection();
  }

  function onJob(event) {
    var job = JSON.parse(event.data);
    var row = rowOf(job.id);
    if (row) update(row, job);
    else if (isNew(job)) insert(job);
  }

  // --- the stream -------------------------------------------------------------------------------

  var pause = 1000;
  var MAX_PAUSE = 30000;
  var catchUp = false;

  function say(text) {
    if (!statusLine) return;
    statusLine.hidden = false;
    statusLine.textContent = text;
  }

  function shownIds() {
    return Array.prototype.map.call(body.querySelectorAll("tr[data-job-id]"), function (r) {
      return r.dataset.jobId;
    }).filter(Boolean).slice(0, 200);
  }

  function readShownRows() {
    var ids = shownIds();
    if (!ids.length) return;
    window.kf.fetch("/api/qc/progress?jobIds=" + encodeURIComponent(ids.join(",")))
      .then(function (r) { return r.ok ? r.json() : { jobs: [] }; })
      .then(function (answer) {
        (answer.jobs || []).forEach(function (job) {
          var row = rowOf(job.id);
          if (row) update(row, job);
        });
      })
      .catch(function () { /* the stream brings the next changes anyway */ });
  }

  function connect() {
    var source = new EventSource("/api/qc/events");
    source.addEventListener("ready", function () {
      pause = 1000;
      say("Live: changes appear as they happen.");
      if (catchUp) readShownRows();
      catchUp = false;
    });
    source.addEventListener("job", onJob);
    source.addEventListener("error", function () {
      if (source.readyState !== EventSource.CLOSED) {
        say("Connection lost: reconnecting…");  // the browser retries on its own
        return;
      }
      source.close();
      say("Connection lost: reconnecting in " + Math.round(pause / 1000) + " s…");
      catchUp = true;
      window.setTimeout(connect, pause);
      pause = Math.min(pause * 2, MAX_PAUSE);
    });
  }

  // --- relative times ("4 min ago"), kept current without asking the server -----------------------

  function ago(seconds) {
    var units = [["day", 86400], ["h", 3600], ["min", 60]];
    for (var i = 0; i < units.length; i++) {
      if (seconds >= units[i][1]) {
        var n = Math.floor(seconds / units[i][1]);
        return n + " " + units[i][0] + (units[i][0] === "day" && n > 1 ? "s" : "") + " ago";
      }
    }
    return "just now";
  }

  function refreshTimes() {
    var now = live.since + (Date.now() - loadedAt) / 1000;
    body.querySelectorAll("time[data-epoch]").forEach(function (t) {
      var then = parseFloat(t.dataset.epoch);
      if (!isNaN(then)) t.textContent = ago(Math.max(0, now - then));
    });
  }

  // --- the bulk form ----------------------------------------------------------------------------

  var form = document.getElementById("bulk-form");
  var selectAll = document.getElementById("select-all");
  var count = document.getElementById("selected-count");

  function boxes() { return form ? form.querySelectorAll('input[name="job_ids"]') : []; }

  function chosen() {
    return Array.prototype.filter.call(boxes(), function (b) { return b.checked; }).length;
  }

  function jobsWord(n) { return n + " job" + (n === 1 ? "" : "s"); }

  function refreshSelection() {
    if (!form) return;
    var n = chosen();
    count.textContent = n ? jobsWord(n) + " selected." : "Select jobs to act on them.";
    form.querySelectorAll("[data-bulk-action]").forEach(function (button) {
      button.disabled = n === 0;
      button.dataset.confirm = button.dataset.question.replace("{n}", jobsWord(n));
    });
    if (selectAll) selectAll.checked = n > 0 && n === boxes().length;
  }

  function markConfirmed(event) {
    // app.js asked already (data-confirm); without JavaScript the server asks instead.
    if (event.target !== form || form.querySelector('input[name="confirmed"]')) return;
    var flag = document.createElement("input");
    flag.type = "hidden";
    flag.name = "confirmed";
    flag.value = "yes";
    form.appendChild(flag);
  }

  if (form) {
    if (selectAll) {
      selectAll.hidden = false;
      selectAll.addEventListener("change", function () {
        boxes().forEach(function (b) { b.checked = selectAll.checked; });
        refreshSelection();
      });
    }
    form.addEventListener("change", function (event) {
      if (event.target.name === "job_ids") refreshSelection();
    });
    document.addEventListener("submit", markConfirmed, true);
    refreshSelection();
  }

  connect();
  window.setInterval(refreshTimes, 30000);
})();
