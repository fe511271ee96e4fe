// Progressive enhancement: click a column header of a sortable table (the roster, the learner x
// concept grid) to sort by it; the tables read fine without this.
Array.prototype.forEach.call(document.querySelectorAll("table[data-sortable]"), function (table) {
  var body = table.tBodies[0];
  var heads = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads, function (th, col) {
    var button = document.createElement("button");
    button.type = "button";
    button.textContent = th.textContent;
    th.textContent = "";
    th.appendChild(button);
    button.addEventListener("click", function () {
      var descending = th.getAttribute("aria-sort") === "ascending";
      Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", descending ? "descending" : "ascending");
      var numeric = th.dataset.type === "number";
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[col].dataset.sort, y = b.cells[col].dataset.sort;
        var c = numeric ? (parseFloat(x) - parseFloat(y)) : x.localeCompare(y);
        if (isNaN(c)) c = 0;
        return descending ? -c : c;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
