(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("compare-data").textContent);
  var selA = document.getElementById("model-a");
  var selB = document.getElementById("model-b");
  var filter = document.getElementById("filter");
  var list = document.getElementById("pairs");
  var count = document.getElementById("count");
  var more = document.getElementById("more");
  var PAGE = 100;
  var shown = PAGE;
  var labels = {};
  data.rows.forEach(function (r) { labels[r.key] = r.label; });
  var TESTS = {
    all: function () { return true; },
    discordant: function (a, b) { return a && b && a[1] !== b[1]; },
    "a-only": function (a, b) { return a && b && a[1] && !b[1]; },
    "b-only": function (a, b) { return a && b && !a[1] && b[1]; },
    differ: function (a, b) { return a && b && a[0] !== b[0]; }
  };
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }
  function matching(name) {
    var a = data.answers[selA.value], b = data.answers[selB.value], out = [];
    data.samples.forEach(function (s, i) { if (TESTS[name](a[i], b[i])) { out.push(i); } });
    return out;
  }
  function side(title, answer, gold) {
    var box = el("div", "side");
    box.appendChild(el("h4", null, title));
    var facts = el("div", "facts");
    if (!answer) {
      facts.appendChild(el("span", "warn", "no answer to this sample"));
      box.appendChild(facts);
      return box;
    }
    facts.appendChild(el("span", "answer", "answer: " + (answer[0] === null ? "\u2014" : answer[0])));
    facts.appendChild(el("span", "badge " + (answer[1] ? "ok" : "flag-wrong"), answer[1] ? "right" : "wrong"));
    box.appendChild(facts);
    box.appendChild(el("pre", "rationale", answer[2] === null ? "(no chain)" : answer[2]));
    return box;
  }
  function card(i) {
    var s = data.samples[i];
    var a = data.answers[selA.value][i], b = data.answers[selB.value][i];
    var art = el("article", "sample compared");
    art.id = "c-" + (i + 1);
    art.setAttribute("data-id", s.id);
    var thumb = el("div", "thumb");
    if (s.thumb) {
      var img = el("img");
      img.src = s.thumb;
      img.alt = "image of sample " + s.id;
      img.loading = "lazy";
      thumb.appendChild(img);
    } else {
      thumb.appendChild(el("div", "noimg", "no image"));
    }
    art.appendChild(thumb);
    var facts = el("div", "facts");
    facts.appendChild(el("span", null, "#" + (i + 1) + " " + s.id));
    if (s.target) { facts.appendChild(el("span", null, "target: " + s.target)); }
    facts.appendChild(el("span", null, "gold: " + s.gold));
    if (a && b && a[1] !== b[1]) { facts.appendChild(el("span", "badge discordant", "discordant")); }
    art.appendChild(facts);
    art.appendChild(el("div", "post", s.text));
    var three = el("div", "three");
    three.appendChild(side("A: " + labels[selA.value], a, s.gold));
    three.appendChild(side("B: " + labels[selB.value], b, s.gold));
    var ref = el("div", "side");
    ref.appendChild(el("h4", null, "reference chain"));
    ref.appendChild(el("pre", "reference", s.reference === null || s.reference === undefined ? "\u2014" : s.reference));
    three.appendChild(ref);
    art.appendChild(three);
    return art;
  }
  function render() {
    Array.prototype.forEach.call(filter.options, function (o) {
      var base = o.getAttribute("data-base") || o.textContent;
      o.setAttribute("data-base", base);
      o.textContent = base + " (" + matching(o.value).length + ")";
    });
    var chosen = matching(filter.value);
    list.textContent = "";
    chosen.slice(0, shown).forEach(function (i) { list.appendChild(card(i)); });
    count.textContent = "Showing " + Math.min(shown, chosen.length) + " of " + chosen.length +
      " matching samples (" + data.samples.length + " in the test set).";
    more.hidden = chosen.length <= shown;
    var hash = "a=" + selA.value + "&b=" + selB.value + "&f=" + filter.value;
    if (window.location.hash.slice(1) !== hash) { window.location.hash = hash; }
  }
  function fromHash() {
    var found = {};
    window.location.hash.slice(1).split("&").forEach(function (part) {
      var kv = part.split("=");
      if (kv.length === 2) { found[kv[0]] = decodeURIComponent(kv[1]); }
    });
    selA.value = labels[found.a] !== undefined ? found.a : data.a;
    selB.value = labels[found.b] !== undefined ? found.b : data.b;
    filter.value = TESTS[found.f] ? found.f : "all";
  }
  [selA, selB, filter].forEach(function (s) {
    s.addEventListener("change", function () { shown = PAGE; render(); });
  });
  more.addEventListener("click", function () { shown += PAGE; render(); });
  fromHash();
  render();
}());
