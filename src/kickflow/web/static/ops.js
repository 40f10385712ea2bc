/* Operations page: the action forms say they were confirmed (app.js asked, via data-confirm;
 * without JavaScript the server shows a confirmation page instead), and the dead-letter list
 * gets "select all" and a count in its confirmation. */
(function () {
  "use strict";

  function markConfirmed(event) {
    var form = event.target;
    if (!form.matches || !form.matches("form[data-ops-action]")) return;
    if (form.querySelector('input[name="confirmed"]')) return;
    var flag = document.createElement("input");
    flag.type = "hidden";
    flag.name = "confirmed";
    flag.value = "yes";
    form.appendChild(flag);
  }

  function setUpFailedList(form) {
    var boxes = function () { return form.querySelectorAll('input[name="job_ids"]'); };
    var chosen = function () { return form.querySelectorAll('input[name="job_ids"]:checked'); };
    var button = form.querySelector('button[type="submit"]');
    var all = form.querySelector("[data-select-all]");
    var label = form.querySelector("[data-select-all-label]");
    if (label) label.hidden = false;

    function refresh() {
      var n = chosen().length;
      button.dataset.confirm = "Re-queue " + n + " selected failed job" + (n === 1 ? "" : "s") + "?";
      if (all) all.checked = n > 0 && n === boxes().length;
    }
    if (all) {
      all.addEventListener("change", function () {
        boxes().forEach(function (box) { box.checked = all.checked; });
        refresh();
      });
    }
    form.addEventListener("change", function (event) {
      if (event.target.name === "job_ids") refresh();
    });
    // Before app.js's confirmation (document listener): nothing selected, nothing to ask.
    button.addEventListener("click", function (event) {
      if (chosen().length) return;
      event.preventDefault();
      event.stopPropagation();
      window.kf.flash("Select at least one failed job to re-queue.", "warn");
    });
    refresh();
  }

  document.addEventListener("submit", markConfirmed, true);
  var failed = document.getElementById("failed-form");
  if (failed) setUpFailedList(failed);
})();
