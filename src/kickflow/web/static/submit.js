/* Submit page: files dropped or chosen are each sent with their own request to
 * POST /api/qc/jobs (multipart, X-CSRF-Token, the session cookie), so each gets its own
 * progress bar ("uploading 45 %"), then its job's state from the page's ONE event stream
 * (/api/qc/events) until a verdict, with a link to the job. A file over the upload limit is
 * refused before a byte is sent; a refused file shows the server's sentence. A local path goes
 * as a JSON POST. Without JavaScript the form posts to /submit and /submit/path instead.
 *
 * Subtitle files (their own input, or dropped with the media) go in the request of the media
 * file they belong to, as the server pairs them (kickflow.jobs.sidecars): with one media file,
 * all of them; with several, each goes with the media file whose name (without extension)
 * starts its own, the longest such name winning. One that fits none is refused on the page.
 */
(function () {
  "use strict";

  var form = document.getElementById("submit-form");
  var template = document.getElementById("upload-item");
  if (!form || !template || !window.XMLHttpRequest) return;
  var list = document.getElementById("upload-list");
  var section = document.getElementById("uploads");
  var input = document.getElementById("s-files");
  var subtitleInput = document.getElementById("s-subtitles");
  var SUBTITLE_NAME = /\.(srt|vtt|ttml|dfxp|ass|ssa)$/i;
  var STEM_SEPARATORS = "._- ";
  var zone = document.getElementById("dropzone");
  var limit = Number(form.dataset.uploadLimit);
  var limitText = form.dataset.uploadLimitText;
  var PARALLEL = 2;

  var waiting = [];   // {file, item} not sent yet
  var sending = 0;
  var items = {};     // job id -> item element
  var latest = {};    // job id -> the newest event seen (it may come before the upload's answer)

  // --- one line per file ----------------------------------------------------------------------

  function size(bytes) {
    var units = ["bytes", "KB", "MB", "GB", "TB"];
    var i = 0;
    while (bytes >= 1024 && i < units.length - 1) { bytes /= 1024; i++; }
    return (i === 0 || bytes >= 10 ? Math.round(bytes) : bytes.toFixed(1)) + " " + units[i];
  }

  function newItem(name, bytes) {
    var item = template.content.firstElementChild.cloneNode(true);
    item.querySelector(".upload-name").textContent = name;
    item.querySelector(".upload-size").textContent = bytes === null ? "" : size(bytes);
    section.hidden = false;
    list.appendChild(item);
    return item;
  }

  function say(item, text) { item.querySelector(".upload-status").textContent = text; }

  function bar(item, fraction, kind) {
    var progress = item.querySelector(".progress");
    progress.value = Math.max(0, Math.min(1, fraction));
    progress.className = "progress" + (kind ? " " + kind : "");
  }

  function refuse(item, message) {
    item.classList.add("is-refused");
    bar(item, 1, "is-failed");
    say(item, "Refused: " + message);
  }

  function badge(item, className, text) {
    var holder = item.querySelector(".upload-badge");
    holder.replaceChildren();
    var span = document.createElement("span");
    span.className = className;
    span.textContent = text;
    holder.appendChild(span);
  }

  function linkTo(item, job) {
    var status = item.querySelector(".upload-status");
    var link = document.createElement("a");
    link.href = "/jobs/" + encodeURIComponent(job.id);
    link.textContent = "job " + job.id.slice(0, 8) + "…";
    return { status: status, link: link };
  }

  function show(item, job) {
    var parts = linkTo(item, job);
    var words;
    if (job.state === "queued") words = "Queued — ";
    else if (job.state === "running") words = "Running" + (job.phase ? " (" + job.phase + ")" : "") + ", " + Math.round(job.progress || 0) + " % — ";
    else if (job.state === "completed") words = "Done, verdict " + (job.verdict || "none").replace(/_/g, " ") + " — ";
    else if (job.state === "failed") words = "Failed" + (job.lastError ? ": " + job.lastError.message : "") + " — ";
    else words = job.state.charAt(0).toUpperCase() + job.state.slice(1) + " — ";
    parts.status.replaceChildren(document.createTextNode(words), parts.link);
    badge(item, "badge badge-" + (job.verdict || job.state), (job.verdict || job.state).replace(/_/g, " "));
    if (job.state === "completed") bar(item, 1, "is-done");
    else if (job.state === "failed" || job.state === "cancelled") bar(item, 1, "is-failed");
    else if (job.state === "running") bar(item, (job.progress || 0) / 100, "");
  }

  function created(item, job) {
    items[job.id] = item;
    item.dataset.jobId = job.id;
    var seen = latest[job.id];
    show(item, seen && seen.updatedAt >= job.updatedAt ? seen : job);
  }

  // --- sending --------------------------------------------------------------------------------

  function options() {
    var data = {};
    ["profile", "project", "priority", "timecode_start"].forEach(function (name) {
      var field = form.elements[name];
      var value = field ? field.value.trim() : "";
      if (value) data[name] = value;
    });
    return data;
  }

  function errorOf(xhr) {
    try {
      var body = JSON.parse(xhr.responseText);
      if (body && body.error && body.error.message) return body.error.message;
    } catch (ignored) { /* not JSON: a proxy's page */ }
    if (xhr.status === 413) return "the file is larger than the upload limit of " + limitText + ".";
    return xhr.status ? "the server answered " + xhr.status + "." : "the connection was lost.";
  }

  function send(entry) {
    var item = entry.item;
    var data = new FormData();
    var opts = options();
    Object.keys(opts).forEach(function (k) { data.append(k, opts[k]); });
    data.append("file", entry.file, entry.file.name);
    entry.subtitles.forEach(function (sub) { data.append("subtitles", sub, sub.name); });
    var xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/qc/jobs");
    xhr.setRequestHeader("X-CSRF-Token", window.kf.csrfToken());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", function (event) {
      if (!event.lengthComputable) return;
      var fraction = event.loaded / event.total;
      bar(item, fraction, "");
      say(item, "Uploading " + Math.round(fraction * 100) + " % (" + size(event.loaded) + " of " + size(event.total) + ")");
    });
    xhr.upload.addEventListener("load", function () { say(item, "Uploaded: the server is storing it…"); });
    xhr.addEventListener("load", function () {
      if (xhr.status === 201) {
        bar(item, 0, "");
        created(item, JSON.parse(xhr.responseText));
      } else {
        refuse(item, errorOf(xhr));
      }
      done();
    });
    xhr.addEventListener("error", function () { refuse(item, errorOf(xhr)); done(); });
    sending++;
    say(item, "Uploading 0 %");
    xhr.send(data);
  }

  function done() {
    sending--;
    pump();
  }

  function pump() {
    while (sending < PARALLEL && waiting.length) send(waiting.shift());
  }

  // --- subtitle files with their media files (the server's rule) ------------------------------

  function stem(name) {
    var dot = name.lastIndexOf(".");
    return (dot > 0 ? name.slice(0, dot) : name).toLowerCase();
  }

  function fits(subtitle, media) {
    var own = stem(subtitle), base = stem(media);
    return own === base || (own.indexOf(base) === 0 && STEM_SEPARATORS.indexOf(own.charAt(base.length)) >= 0);
  }

  function owner(subtitle, media) {
    if (media.length === 1) return 0;
    var best = -1;
    media.forEach(function (file, i) {
      if (fits(subtitle.name, file.name) && (best < 0 || stem(file.name).length > stem(media[best].name).length)) best = i;
    });
    return best;
  }

  function pairSubtitles(media, subtitles) {
    var paired = media.map(function () { return []; });
    subtitles.forEach(function (sub) {
      var i = owner(sub, media);
      if (i >= 0) { paired[i].push(sub); return; }
      var item = newItem(sub.name, sub.size);
      refuse(item, sub.name + " goes with none of the media files: name a subtitle file after its video, e.g. " + stem(media[0].name) + ".en.srt.");
    });
    return paired;
  }

  function add(chosen) {
    var media = [], subtitles = [];
    Array.prototype.forEach.call(chosen, function (file) { (SUBTITLE_NAME.test(file.name) ? subtitles : media).push(file); });
    if (subtitleInput) Array.prototype.forEach.call(subtitleInput.files, function (file) { subtitles.push(file); });
    if (!media.length) { window.kf.flash("Choose or drop at least one media file with the subtitle files.", "warn"); return; }
    var paired = pairSubtitles(media, subtitles);
    if (subtitleInput) subtitleInput.value = "";
    media.forEach(function (file, index) {
      var item = newItem(file.name, file.size);
      if (file.size > limit) {
        refuse(item, file.name + " is " + size(file.size) + ", over the upload limit of " + limitText + ".");
      } else if (file.size === 0) {
        refuse(item, file.name + " is empty (0 bytes): send the media file itself.");
      } else {
        say(item, "Waiting to upload…");
        waiting.push({ file: file, item: item, subtitles: paired[index] });
      }
    });
    pump();
  }

  function sendPath(path) {
    var item = newItem(path, null);
    say(item, "Sending…");
    var body = Object.assign(options(), { source: { type: "path", path: path } });
    if (body.priority) body.priority = Number(body.priority);
    window.kf.post("/api/qc/jobs", body).then(
      function (job) { created(item, job); },
      function (error) { refuse(item, error.message); }
    );
  }

  form.addEventListener("submit", function (event) {
    // A Drive link is read by the service: the form posts it as it is (/submit/drive).
    if (event.submitter && event.submitter.id === "drive-button") return;
    event.preventDefault();
    var pathButton = document.getElementById("path-button");
    if (event.submitter && event.submitter === pathButton) {
      var path = form.elements.path.value.trim();
      if (!path) { window.kf.flash("Give the path of a file to check.", "warn"); return; }
      sendPath(path);
      return;
    }
    if (!input.files.length) { window.kf.flash("Choose or drop at least one file first.", "warn"); return; }
    add(input.files);
    input.value = "";
  });

  // Dropped files go at once: dropping is the choice.
  zone.addEventListener("dragover", function (event) {
    event.preventDefault();
    zone.classList.add("is-over");
  });
  zone.addEventListener("dragleave", function () { zone.classList.remove("is-over"); });
  zone.addEventListener("drop", function (event) {
    event.preventDefault();
    zone.classList.remove("is-over");
    if (event.dataTransfer && event.dataTransfer.files.length) add(event.dataTransfer.files);
  });

  // --- the jobs' state, from the page's one event stream ---------------------------------------

  var pause = 1000;
  var reconnected = false;

  function catchUp() {
    var ids = Object.keys(items).slice(0, 200);
    if (!ids.length) return;
    window.kf.fetch("/api/qc/progress?jobIds=" + encodeURIComponent(ids.join(",")))
      .then(function (r) { return r.ok ? r.json() : { jobs: [] }; })
      .then(function (answer) {
        (answer.jobs || []).forEach(function (job) { if (items[job.id]) show(items[job.id], job); });
      })
      .catch(function () { /* the next change comes on the stream */ });
  }

  function remember(job) {
    latest[job.id] = job;
    var ids = Object.keys(latest);
    if (ids.length > 1000) delete latest[ids[0]];
  }

  function connect() {
    var source = new EventSource("/api/qc/events");
    source.addEventListener("ready", function () {
      pause = 1000;
      if (reconnected) catchUp();
      reconnected = false;
    });
    source.addEventListener("job", function (event) {
      var job = JSON.parse(event.data);
      remember(job);
      if (items[job.id]) show(items[job.id], job);
    });
    source.addEventListener("error", function () {
      if (source.readyState !== EventSource.CLOSED) return;  // the browser retries on its own
      source.close();
      reconnected = true;
      window.setTimeout(connect, pause);
      pause = Math.min(pause * 2, 30000);
    });
  }

  connect();
})();
