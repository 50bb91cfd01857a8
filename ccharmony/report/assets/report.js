/* ccharmony report: gallery and benchmark pages. No dependencies, no network.
 * State (filters, sort, page) lives in location.hash so that views can be bookmarked and tested:
 *   gallery.html#split=test&camera=Canon5D&amin=5&amax=15&sort=angle-desc&page=2
 *   benchmark.html#sort=fmse:GiftNet&split=test&page=1
 */
(function () {
  "use strict";

  function esc(value) {
    return String(value).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function fmt(value, digits) {
    if (value === null || value === undefined || !isFinite(value)) return "–";
    return Number(value).toPrecision(digits || 3).replace(/\.?0+(e|$)/, "$1");
  }
  function readHash() {
    var params = new URLSearchParams(location.hash.replace(/^#/, ""));
    var state = {};
    params.forEach(function (value, key) { state[key] = value; });
    return state;
  }
  function writeHash(state) {
    var params = new URLSearchParams();
    Object.keys(state).forEach(function (key) {
      if (state[key] !== "" && state[key] !== undefined && state[key] !== null) params.set(key, state[key]);
    });
    var hash = "#" + params.toString();
    if (hash !== location.hash && !(hash === "#" && location.hash === "")) location.hash = hash;
    else render();
  }
  function fillSelect(select, values, labels) {
    values.forEach(function (value, i) {
      var option = document.createElement("option");
      option.value = value;
      option.textContent = labels ? labels[i] : value;
      select.appendChild(option);
    });
  }
  function pager(container, page, pages, total, onPage) {
    if (!container) return;
    container.innerHTML = "";
    if (pages <= 1) return;
    var prev = document.createElement("button");
    prev.type = "button"; prev.textContent = "‹ previous"; prev.disabled = page <= 1;
    prev.className = "page-prev";
    prev.onclick = function () { onPage(page - 1); };
    var info = document.createElement("span");
    info.className = "page-info";
    info.textContent = "page " + page + " of " + pages;
    var next = document.createElement("button");
    next.type = "button"; next.textContent = "next ›"; next.disabled = page >= pages;
    next.className = "page-next";
    next.onclick = function () { onPage(page + 1); };
    container.appendChild(prev); container.appendChild(info); container.appendChild(next);
  }
  function img(src, alt, href) {
    if (!src) return '<div class="missing" title="' + esc(alt) + '">not readable</div>';
    var tag = '<img src="' + esc(src) + '" alt="' + esc(alt) + '" loading="lazy" decoding="async">';
    return href ? '<a href="' + esc(href) + '">' + tag + "</a>" : tag;
  }
  function cmpNullLast(a, b, descending) {
    var aMissing = a === null || a === undefined || !isFinite(a);
    var bMissing = b === null || b === undefined || !isFinite(b);
    if (aMissing || bMissing) return aMissing === bMissing ? 0 : (aMissing ? 1 : -1);
    return descending ? b - a : a - b;
  }

  var render = function () {};

  /* ---------------------------------------------------------------- gallery */
  function gallery(data) {
    var cards = data.cards;
    var els = {
      split: document.getElementById("filter-split"), camera: document.getElementById("filter-camera"),
      amin: document.getElementById("filter-angle-min"), amax: document.getElementById("filter-angle-max"),
      sort: document.getElementById("sort"), gallery: document.getElementById("gallery"),
      count: document.getElementById("card-count"), reset: document.getElementById("reset")
    };
    fillSelect(els.split, data.splits);
    fillSelect(els.camera, data.cameras);
    var sorts = ["name", "angle-desc", "angle-asc"];
    var sortLabels = ["name", "largest angle first", "smallest angle first"];
    data.models.forEach(function (model) {
      sorts.push("error:" + model);
      sortLabels.push(data.metric + " of " + model + ", worst first");
    });
    fillSelect(els.sort, sorts, sortLabels);
    cards.forEach(function (card) {
      var angles = card.comps.map(function (c) { return c.angle; }).filter(function (a) { return a !== null; });
      card.maxAngle = angles.length ? Math.max.apply(null, angles) : null;
      card.minAngle = angles.length ? Math.min.apply(null, angles) : null;
      card.worst = {};
      data.models.forEach(function (model) {
        var errs = card.comps.map(function (c) { return c.err[model]; })
          .filter(function (e) { return e !== undefined && e !== null; });
        card.worst[model] = errs.length ? Math.max.apply(null, errs) : null;
      });
    });

    function state() {
      var s = readHash();
      return {
        split: s.split || "", camera: s.camera || "", amin: s.amin || "", amax: s.amax || "",
        sort: sorts.indexOf(s.sort) >= 0 ? s.sort : "name", page: Math.max(1, parseInt(s.page || "1", 10) || 1)
      };
    }
    function inRange(angle, s) {
      if (s.amin === "" && s.amax === "") return true;
      if (angle === null) return false;
      if (s.amin !== "" && angle < parseFloat(s.amin)) return false;
      if (s.amax !== "" && angle > parseFloat(s.amax)) return false;
      return true;
    }
    function cardHtml(card, s, sortModel) {
      var base = data.base;
      var meta = [card.camera, card.split];
      if (card.ratio !== null) meta.push("foreground " + fmt(100 * card.ratio, 3) + "%");
      var parts = ['<article class="card" id="card-' + esc(card.id) + '" data-split="' + esc(card.split) +
        '" data-camera="' + esc(card.camera) + '"><header><b>' + esc(card.image) + "</b> · foreground " +
        esc(card.fg) + '<span class="meta">' + esc(meta.join(" · ")) + '</span></header><div class="strip">'];
      parts.push("<figure>" + img(card.real, "real " + card.image, base + card.realPath) +
        "<figcaption>real</figcaption></figure>");
      parts.push("<figure>" + img(card.outline, "mask " + card.id, base + card.maskPath) +
        "<figcaption>mask outline</figcaption></figure>");
      card.comps.forEach(function (c, i) {
        var caption = "<b>k=" + c.k + "</b> · " + fmt(c.angle, 3) + "°<br>→ " + esc(c.targetImage);
        data.models.forEach(function (model) {
          if (c.err[model] !== undefined) {
            var worst = model === sortModel && c.err[model] === card.worst[model];
            caption += '<br><span class="' + (worst ? "worst" : "") + '">' + esc(data.metric) + " " +
              esc(model) + " " + fmt(c.err[model], 4) + "</span>";
          }
        });
        parts.push('<figure class="comp' + (i === 0 ? " sep" : "") + (inRange(c.angle, s) ? "" : " out") +
          '" data-angle="' + (c.angle === null ? "" : c.angle) + '">' + img(c.thumb, c.name, base + c.path) +
          "<figcaption>" + caption + "</figcaption></figure>");
      });
      parts.push("</div></article>");
      return parts.join("");
    }
    render = function () {
      var s = state();
      els.split.value = s.split; els.camera.value = s.camera; els.amin.value = s.amin; els.amax.value = s.amax;
      els.sort.value = s.sort;
      var shown = cards.filter(function (card) {
        if (s.split && card.split !== s.split) return false;
        if (s.camera && card.camera !== s.camera) return false;
        return card.comps.some(function (c) { return inRange(c.angle, s); });
      });
      var sortModel = s.sort.indexOf("error:") === 0 ? s.sort.slice(6) : null;
      shown.sort(function (a, b) {
        var order = 0;
        if (s.sort === "angle-desc") order = cmpNullLast(a.maxAngle, b.maxAngle, true);
        else if (s.sort === "angle-asc") order = cmpNullLast(a.minAngle, b.minAngle, false);
        else if (sortModel) order = cmpNullLast(a.worst[sortModel], b.worst[sortModel], true);
        return order || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
      });
      var pages = Math.max(1, Math.ceil(shown.length / data.pageSize));
      var page = Math.min(s.page, pages);
      var slice = shown.slice((page - 1) * data.pageSize, page * data.pageSize);
      els.gallery.innerHTML = slice.map(function (card) { return cardHtml(card, s, sortModel); }).join("");
      var composites = shown.reduce(function (n, card) { return n + card.comps.length; }, 0);
      els.count.dataset.count = String(shown.length);
      els.count.textContent = shown.length + " of " + cards.length + " foregrounds (" + composites +
        " composites) · showing " + slice.length + " on page " + page + " of " + pages;
      var onPage = function (p) { s.page = p; writeHash(s); window.scrollTo(0, 0); };
      pager(document.getElementById("pager-top"), page, pages, shown.length, onPage);
      pager(document.getElementById("pager"), page, pages, shown.length, onPage);
    };
    function fromControls() {
      writeHash({ split: els.split.value, camera: els.camera.value, amin: els.amin.value, amax: els.amax.value,
                  sort: els.sort.value === "name" ? "" : els.sort.value, page: "" });
    }
    [els.split, els.camera, els.sort, els.amin, els.amax].forEach(function (el) {
      el.addEventListener("change", fromControls);
    });
    els.reset.addEventListener("click", function () { writeHash({}); });
  }

  /* -------------------------------------------------------------- benchmark */
  function benchmark(data) {
    var cases = data.cases;
    var splitSelect = document.getElementById("case-split");
    var sortSelect = document.getElementById("case-sort");
    var splits = [];
    cases.forEach(function (c) { if (splits.indexOf(c.split) < 0) splits.push(c.split); });
    fillSelect(splitSelect, splits.sort());
    var sorts = [], labels = [];
    var models = [data.primary].concat(data.models.filter(function (m) { return m !== data.primary; }));
    models.forEach(function (model) {
      data.metrics.forEach(function (metric) {
        sorts.push(metric + ":" + model);
        labels.push(metric + " of " + model + ", worst first");
      });
    });
    sorts.push("name"); labels.push("name");
    fillSelect(sortSelect, sorts, labels);
    var defaultSort = sorts[0];
    data.metrics.forEach(function (metric) {
      if (metric.toLowerCase() === "fmse") defaultSort = metric + ":" + data.primary;
    });

    function state() {
      var s = readHash();
      return { split: s.split || "", sort: sorts.indexOf(s.sort) >= 0 ? s.sort : defaultSort,
               page: Math.max(1, parseInt(s.page || "1", 10) || 1) };
    }
    function value(c, metric, model) {
      var m = c.m[model];
      return m ? m.v[metric] : null;
    }
    function caseHtml(c, sortMetric, sortModel) {
      var parts = ['<article class="case" id="case-' + esc(c.stem) + '" data-split="' + esc(c.split) +
        '"><header><b>' + esc(c.name) + '</b><span class="meta">' + esc(c.split) +
        (c.angle !== null ? " · " + fmt(c.angle, 3) + "°" : "") + '</span></header><div class="strip">'];
      parts.push("<figure>" + img(c.composite, "composite " + c.name) + "<figcaption>composite</figcaption></figure>");
      data.models.forEach(function (model) {
        var m = c.m[model];
        if (!m) return;
        var caption = "<b>" + esc(model) + "</b>";
        data.metrics.forEach(function (metric) {
          var cls = metric === sortMetric && model === sortModel ? "worst" : "";
          caption += '<br><span class="' + cls + '">' + esc(metric) + " " + fmt(m.v[metric], 4) + "</span>";
        });
        parts.push('<figure class="pred">' + (m.pred ? img(m.pred, model + " " + c.name) :
          '<div class="missing">no image</div>') + "<figcaption>" + caption + "</figcaption></figure>");
      });
      parts.push('<figure class="sep">' + img(c.real, "real " + c.name) + "<figcaption>real</figcaption></figure>");
      parts.push("</div></article>");
      return parts.join("");
    }
    render = function () {
      var s = state();
      splitSelect.value = s.split; sortSelect.value = s.sort;
      var shown = cases.filter(function (c) { return !s.split || c.split === s.split; });
      var sortMetric = null, sortModel = null;
      if (s.sort !== "name") {
        sortMetric = s.sort.slice(0, s.sort.indexOf(":"));
        sortModel = s.sort.slice(s.sort.indexOf(":") + 1);
      }
      shown.sort(function (a, b) {
        var order = 0;
        if (sortMetric) {
          order = cmpNullLast(value(a, sortMetric, sortModel), value(b, sortMetric, sortModel),
                              data.lower[sortMetric]);
        }
        return order || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
      });
      var pages = Math.max(1, Math.ceil(shown.length / data.pageSize));
      var page = Math.min(s.page, pages);
      var slice = shown.slice((page - 1) * data.pageSize, page * data.pageSize);
      document.getElementById("cases").innerHTML = slice.map(function (c) {
        return caseHtml(c, sortMetric, sortModel);
      }).join("");
      var count = document.getElementById("case-count");
      count.dataset.count = String(shown.length);
      count.textContent = shown.length + " test images · page " + page + " of " + pages;
      var onPage = function (p) { s.page = p; writeHash(s); window.scrollTo(0, 0); };
      pager(document.getElementById("case-pager-top"), page, pages, shown.length, onPage);
      pager(document.getElementById("case-pager"), page, pages, shown.length, onPage);
    };
    function fromControls() {
      writeHash({ split: splitSelect.value, sort: sortSelect.value === defaultSort ? "" : sortSelect.value, page: "" });
    }
    splitSelect.addEventListener("change", fromControls);
    sortSelect.addEventListener("change", fromControls);
  }

  /* ------------------------------------------------------------------ start */
  function start() {
    var page = document.body.getAttribute("data-page");
    if (page === "gallery") {
      if (!window.CCH_GALLERY) throw new Error("data/gallery.js did not load");
      gallery(window.CCH_GALLERY);
    } else if (page === "benchmark") {
      if (!window.CCH_BENCH) throw new Error("data/benchmark.js did not load");
      benchmark(window.CCH_BENCH);
    }
    render();
    window.addEventListener("hashchange", render);
    document.body.setAttribute("data-render-ms", performance.now().toFixed(1));
    document.body.setAttribute("data-ready", "1");
  }
  window.addEventListener("load", function () {
    document.body.setAttribute("data-load-ms", performance.now().toFixed(1));
  });
  start();
})();
