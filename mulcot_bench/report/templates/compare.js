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
  var chains = {};  // key -> sample index -> chain, filled by the chain files as they load
  var asked = {};  // chain file -> "loading", "done" or "failed"
  window.mulcotChains = function (key, start, list) {
    var got = chains[key] || (chains[key] = {});
    list.forEach(function (chain, i) { got[start + i] = chain; });
  };
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
  function chain(key, i) {
    var file = (data.chains[key] || [])[Math.floor(i / data.chunk)];
    if (!file) { return null; }
    if (asked[file] === "failed") { return "(could not load " + file + ")"; }
    var got = chains[key] || {};
    return got[i] === undefined ? undefined : got[i];
  }
  function load(keys, indices, done) {
    var files = [];
    keys.forEach(function (key) {
      indices.forEach(function (i) {
        var file = (data.chains[key] || [])[Math.floor(i / data.chunk)];
        if (file && asked[file] !== "done" && asked[file] !== "failed" && files.indexOf(file) < 0) { files.push(file); }
      });
    });
    if (!files.length) { return true; }
    files.forEach(function (file) {
      if (asked[file] === "loading") { return; }
      asked[file] = "loading";
      var tag = document.createElement("script");
      tag.src = file;
      tag.onload = function () { asked[file] = "done"; done(); };
      tag.onerror = function () { asked[file] = "failed"; done(); };
      document.head.appendChild(tag);
    });
    return false;
  }
  function side(title, key, i, answer) {
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
    var text = chain(key, i);
    box.appendChild(el("pre", "rationale", text === undefined ? "loading\u2026" : text === null ? "(no chain)" : text));
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
    three.appendChild(side("A: " + labels[selA.value], selA.value, i, a));
    three.appendChild(side("B: " + labels[selB.value], selB.value, i, b));
    var ref = el("div", "side");
    ref.appendChild(el("h4", null, "reference chain"));
    var reference = chain("reference", i);
    ref.appendChild(el("pre", "reference", reference === undefined ? "loading\u2026" : reference === null ? "\u2014" : reference));
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
    var cards = chosen.slice(0, shown);
    var ready = load([selA.value, selB.value, "reference"], cards, function () {
      if (!Object.keys(asked).some(function (f) { return asked[f] === "loading"; })) { render(); }
    });
    list.setAttribute("data-state", ready ? "ready" : "loading");
    list.textContent = "";
    cards.forEach(function (i) { list.appendChild(card(i)); });
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
