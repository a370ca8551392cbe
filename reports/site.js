/* bench report: sortable and filterable tables, no dependencies (inlined into every page). */
(function () {
  "use strict";
  function value(row, index, type) {
    var cell = row.cells[index];
    if (!cell) { return null; }
    if (type === "number") {
      var raw = cell.getAttribute("data-value");
      return raw === null || raw === "" ? null : parseFloat(raw);
    }
    return cell.textContent.trim().toLowerCase();
  }
  function sortBy(table, index, header) {
    var type = header.getAttribute("data-type") || "text";
    var current = header.getAttribute("aria-sort");
    var first = header.getAttribute("data-first") || "ascending";
    var order = current === null ? first : (current === "ascending" ? "descending" : "ascending");
    var sign = order === "ascending" ? 1 : -1;
    Array.prototype.forEach.call(header.parentNode.cells, function (th) { th.removeAttribute("aria-sort"); });
    Array.prototype.forEach.call(table.tBodies, function (body) {
      // each <tbody> (our rows; published rows under their heading row) sorts on its own
      var rows = Array.prototype.filter.call(body.rows, function (row) { return !row.classList.contains("block"); });
      var position = new Map(rows.map(function (row, i) { return [row, i]; }));
      rows.sort(function (a, b) {
        var x = value(a, index, type), y = value(b, index, type);
        if (x === null || y === null) {
          return x === y ? position.get(a) - position.get(b) : (x === null ? 1 : -1);
        }
        if (x < y) { return -sign; }
        if (x > y) { return sign; }
        return position.get(a) - position.get(b);
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
    header.setAttribute("aria-sort", order);
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (header, index) {
      header.tabIndex = 0;
      header.addEventListener("click", function () { sortBy(table, index, header); });
      header.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); sortBy(table, index, header); }
      });
    });
  });
  document.querySelectorAll("input.filter").forEach(function (input) {
    var table = document.getElementById(input.getAttribute("data-table"));
    input.addEventListener("input", function () {
      var query = input.value.trim().toLowerCase();
      Array.prototype.forEach.call(table.tBodies, function (body) {
        Array.prototype.forEach.call(body.rows, function (row) {
          if (!row.classList.contains("block")) {
            row.hidden = query !== "" && row.textContent.toLowerCase().indexOf(query) === -1;
          }
        });
      });
    });
  });
})();
