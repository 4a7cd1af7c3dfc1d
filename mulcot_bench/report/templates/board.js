(function () {
  "use strict";
  function key(cell, numeric) {
    if (!cell) { return null; }
    var v = cell.getAttribute("data-v");
    if (numeric) {
      return v === null || v === "" ? null : parseFloat(v);
    }
    return (v === null ? cell.textContent : v).trim().toLowerCase();
  }
  function sortBy(table, th) {
    var body = table.tBodies[0];
    var index = th.cellIndex;
    var numeric = th.getAttribute("data-sort") === "num";
    var current = th.getAttribute("aria-sort");
    var first = th.getAttribute("data-first") || (numeric ? "desc" : "asc");
    var dir = current ? (current === "ascending" ? "desc" : "asc") : first;
    var sign = dir === "asc" ? 1 : -1;
    var rows = Array.prototype.slice.call(body.rows).map(function (row, i) {
      return { row: row, i: i, k: key(row.cells[index], numeric) };
    });
    rows.sort(function (a, b) {
      if (a.k === null && b.k === null) { return a.i - b.i; }
      if (a.k === null) { return 1; }
      if (b.k === null) { return -1; }
      if (a.k < b.k) { return -sign; }
      if (a.k > b.k) { return sign; }
      return a.i - b.i;
    });
    rows.forEach(function (r) { body.appendChild(r.row); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (c) { c.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir === "asc" ? "ascending" : "descending");
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    Array.prototype.forEach.call(table.querySelectorAll("thead th[data-sort]"), function (th) {
      th.tabIndex = 0;
      th.addEventListener("click", function () { sortBy(table, th); });
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sortBy(table, th); }
      });
    });
  });
  var select = document.getElementById("ref-select");
  if (select) {
    select.addEventListener("change", function () {
      var ref = select.value;
      Array.prototype.forEach.call(document.querySelectorAll("tbody.measured tr[data-key]"), function (tr) {
        var marks = JSON.parse(tr.getAttribute("data-sig") || "{}");
        var m = marks[ref] || ["", "sig-na", "not tested"];
        var span = tr.querySelector("span.sig");
        if (span) {
          span.textContent = m[0];
          span.className = "sig " + m[1];
          span.title = m[2];
        }
        tr.classList.toggle("is-ref", tr.getAttribute("data-key") === ref);
      });
    });
  }
}());
