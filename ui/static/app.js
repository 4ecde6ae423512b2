// Bakehouse UI: the live parts (Server-Sent Events) and the small helpers
// of the pipeline form. htmx does the rest.
(function () {
  "use strict";
  function ready(fn) { if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn); }
  ready(function () {
    // A live region: the server sends the new HTML of the element each
    // time it changes, and "end" when nothing more will change.
    document.querySelectorAll("[data-sse]").forEach(function (el) {
      var es = new EventSource(el.getAttribute("data-sse"));
      es.addEventListener("html", function (e) { el.innerHTML = e.data; });
      es.addEventListener("end", function () { es.close(); el.setAttribute("data-ended", "true"); });
    });
    // A log: lines arrive one event each while the bake runs.
    document.querySelectorAll("pre[data-log]").forEach(function (pre) {
      var state = document.getElementById("log-state");
      if (state && /ended/.test(state.textContent)) return;
      pre.textContent = "";
      var es = new EventSource(pre.getAttribute("data-log"));
      es.addEventListener("line", function (e) {
        var atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 20;
        pre.appendChild(document.createTextNode(e.data + "\n"));
        if (atEnd) pre.scrollTop = pre.scrollHeight;
      });
      // The bake's state, result and actions as they are once it ended.
      es.addEventListener("head", function (e) {
        var head = document.getElementById("bake-head");
        if (head) head.innerHTML = e.data;
      });
      es.addEventListener("end", function () {
        es.close();
        if (state) state.textContent = "The bake has ended; this is its whole log.";
        pre.setAttribute("data-ended", "true");
      });
    });
    document.addEventListener("change", function (e) {
      var t = e.target, group = t.getAttribute && t.getAttribute("data-select-all");
      if (group) document.querySelectorAll('input[name="' + group + '"]').forEach(function (c) { c.checked = t.checked; });
      // A stage's provider decides its regions and base OSes: the server
      // renders the form again, unsaved, with the provider's choices.
      if (t.hasAttribute && t.hasAttribute("data-refresh") && t.form) {
        var op = document.createElement("input");
        op.type = "hidden"; op.name = "op"; op.value = "refresh";
        t.form.appendChild(op);
        t.form.submit();
      }
    });
    document.addEventListener("click", function (e) {
      var t = e.target;
      if (t.hasAttribute("data-remove-row")) { t.closest("tr").remove(); }
      var add = t.getAttribute("data-add-row");
      if (add) {
        var names = (t.getAttribute("data-names") || "eaKey eaValue").split(" ");
        var tr = document.createElement("tr");
        tr.innerHTML = '<td><input aria-label="Key"></td><td><input aria-label="Value"></td><td><button type="button" data-remove-row>Remove</button></td>';
        var inputs = tr.querySelectorAll("input");
        inputs[0].name = names[0]; inputs[1].name = names[1];
        document.getElementById(add).appendChild(tr);
        inputs[0].focus();
      }
    });
  });
})();
