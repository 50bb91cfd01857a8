// ccharmony annotate: the browser side. No third-party code; every request carries the token.
"use strict";

const TOKEN = document.querySelector('meta[name="ccharmony-token"]').content;
const $ = (selector) => document.querySelector(selector);
const CORNER_NAMES = ["dark skin", "bluish green", "black", "white"];
const FG_COLOURS = ["#3cf", "#fc3", "#f6c", "#6f6", "#f96", "#9cf", "#cf9", "#c9f", "#ff6"];

const app = {
  images: [], total: 0, ready: 0,
  detail: null, fg: null, tool: "pan", brush: 16,
  view: { s: 1, ox: 0, oy: 0 },
  overview: null, tiles: new Map(), tileQueue: 0,
  gesture: null, polygon: [], spaceDown: false, pending: 0,
  timing: {},
};
window.ccharmonyAnnotate = app;  // tests read the view transform and timings from here

// --- requests ------------------------------------------------------------------------

function withToken(path) {
  return path + (path.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(TOKEN);
}

function imagePath(name, rest = "") {
  return "/api/images/" + encodeURIComponent(name) + rest;
}

function setStatus(state, text) {
  const status = $("#status");
  status.dataset.state = state;
  status.textContent = text;
}

function showBanner(text, reload) {
  $("#banner-text").textContent = text;
  $("#banner-reload").hidden = !reload;
  $("#banner").hidden = false;
}

async function api(method, path, body) {
  const options = { method, headers: { "X-CCHarmony-Token": TOKEN } };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const writes = method !== "GET";
  if (writes) { app.pending += 1; setStatus("saving", "Saving\u2026"); }
  try {
    const response = await fetch(path, options);
    const data = await response.json().catch(() => ({ error: response.statusText }));
    if (!response.ok) {
      const error = new Error(data.error || response.statusText);
      error.status = response.status;
      throw error;
    }
    return data;
  } catch (error) {
    if (error.status === 409) {
      setStatus("error", "Conflict");
      showBanner(error.message, true);
    } else {
      showBanner(error.message, false);
    }
    throw error;
  } finally {
    if (writes) {
      app.pending -= 1;
      if (app.pending === 0 && $("#status").dataset.state !== "error") setStatus("saved", "All changes saved");
    }
  }
}

// --- the list ------------------------------------------------------------------------

async function loadList() {
  const data = await api("GET", "/api/images");
  app.images = data.images;
  app.total = data.total;
  app.ready = data.ready;
  $("#counts").textContent = `${data.ready} of ${data.total} photos ready to build`;
  $("#counts").dataset.ready = data.ready;
  const problems = $("#list-problems");
  problems.replaceChildren(...data.problems.map((text) => Object.assign(document.createElement("li"), { textContent: text })));
  renderList();
  if (data.images.some((row) => row.chart === "pending") && !$("#list-view").hidden) {
    clearTimeout(app.listTimer);
    app.listTimer = setTimeout(() => loadList().catch(() => {}), 1500);
  }
}

function listFilter(row) {
  const text = $("#filter-text").value.trim().toLowerCase();
  if (text && !(row.name.toLowerCase().includes(text) || (row.camera || "").toLowerCase().includes(text))) return false;
  const chart = $("#filter-chart").value;
  if (chart && row.chart !== chart) return false;
  const fg = $("#filter-fg").value;
  if (fg === "drawn" && row.foregrounds.length === 0) return false;
  if (fg === "none" && row.foregrounds.length > 0) return false;
  const split = $("#filter-split").value;
  if (split && row.split !== split) return false;
  const ready = $("#filter-ready").value;
  if (ready === "yes" && !row.ready) return false;
  if (ready === "no" && row.ready) return false;
  return true;
}

function badge(text, kind) {
  const span = document.createElement("span");
  span.className = "badge " + kind;
  span.textContent = text;
  return span;
}

function renderList() {
  const body = $("#images tbody");
  const rows = app.images.filter(listFilter);
  $("#shown").textContent = `${rows.length} shown`;
  body.replaceChildren(...rows.map((row) => {
    const tr = document.createElement("tr");
    tr.dataset.name = row.name;
    tr.dataset.ready = row.ready ? "1" : "0";
    const cells = [];
    const thumb = document.createElement("td");
    if (row.chart !== "pending" && row.chart !== "unreadable") {
      const img = document.createElement("img");
      img.loading = "lazy";
      img.alt = "";
      img.src = withToken(imagePath(row.name, "/thumb.jpg"));
      thumb.append(img);
    }
    cells.push(thumb);
    const name = document.createElement("td"); name.textContent = row.name; cells.push(name);
    const camera = document.createElement("td"); camera.textContent = row.camera || ""; cells.push(camera);
    const chart = document.createElement("td"); chart.append(badge(row.chart, row.chart)); cells.push(chart);
    const fgs = document.createElement("td"); fgs.textContent = row.foregrounds.join(" ") || "\u2013"; cells.push(fgs);
    const split = document.createElement("td"); split.append(badge(row.split + (row.split_source === "suggested" ? "?" : ""), row.split)); cells.push(split);
    const ready = document.createElement("td"); ready.textContent = row.ready ? "\u2714" : ""; cells.push(ready);
    const notes = document.createElement("td"); notes.className = "notes"; notes.textContent = row.problems.join("; "); cells.push(notes);
    tr.append(...cells);
    tr.addEventListener("click", () => { location.hash = "#image=" + encodeURIComponent(row.name); });
    return tr;
  }));
}

for (const id of ["#filter-text", "#filter-chart", "#filter-fg", "#filter-split", "#filter-ready"]) {
  $(id).addEventListener("input", renderList);
}

// --- routing ----------------------------------------------------------------------------

function route() {
  const match = location.hash.match(/^#image=(.+)$/);
  if (match) {
    openImage(decodeURIComponent(match[1])).catch(() => {});
  } else {
    $("#image-view").hidden = true;
    $("#list-view").hidden = false;
    for (const id of ["#back", "#prev", "#next"]) $(id).hidden = true;
    $("#title").textContent = "ccharmony annotate";
    app.detail = null;
    document.body.dataset.view = "list";
    loadList().then(() => { document.body.dataset.ready = "1"; }).catch(() => {});
  }
}
window.addEventListener("hashchange", route);

// --- the image view -----------------------------------------------------------------------

async function openImage(name) {
  const started = performance.now();
  app.timing = { opened: started };
  document.body.dataset.ready = "0";
  $("#list-view").hidden = true;
  $("#image-view").hidden = false;
  for (const id of ["#back", "#prev", "#next"]) $(id).hidden = false;
  document.body.dataset.view = "image";
  $("#title").textContent = name;
  const detail = await api("GET", imagePath(name));
  app.timing.detail = performance.now() - started;
  app.detail = detail;
  app.tiles = new Map();
  app.polygon = [];
  app.fg = detail.foregrounds.length ? detail.foregrounds[0].letter : null;
  await loadOverview(detail);
  resizeCanvases();
  fit();
  updatePanels();
  draw();
  requestAnimationFrame(() => {
    app.timing.firstPaint = performance.now() - started;
    document.body.dataset.image = name;
    document.body.dataset.ready = "1";
  });
}

function loadOverview(detail) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => { app.overview = img; app.overviewKey = detail.render_key; resolve(); };
    img.onerror = () => reject(new Error("cannot load the photo's display copy"));
    img.src = withToken(imagePath(detail.name, "/overview.jpg?v=" + detail.render_key));
  });
}

async function applyDetail(detail) {
  const renderChanged = !app.detail || detail.render_key !== app.detail.render_key;
  app.detail = detail;
  if (detail.created) app.fg = detail.created;
  if (app.fg && !detail.foregrounds.some((f) => f.letter === app.fg)) {
    app.fg = detail.foregrounds.length ? detail.foregrounds[0].letter : null;
  }
  updatePanels();
  if (renderChanged) {
    app.tiles = new Map();
    await loadOverview(detail);
  }
  draw();
}

function currentForeground() {
  return app.detail ? app.detail.foregrounds.find((f) => f.letter === app.fg) || null : null;
}

function updatePanels() {
  const detail = app.detail;
  if (!detail) return;
  $("#prev").disabled = !detail.previous;
  $("#counts").textContent = detail.ready ? "\u2714 ready to build" : "not ready to build yet (see Notes)";
  $("#next").disabled = !detail.next;
  // Foregrounds.
  const list = $("#foregrounds");
  list.replaceChildren(...detail.foregrounds.map((fg, index) => {
    const li = document.createElement("li");
    li.dataset.letter = fg.letter;
    li.className = fg.letter === app.fg ? "selected" : "";
    const left = document.createElement("span");
    left.textContent = `${index < 9 ? index + 1 + ": " : ""}${fg.letter}`;
    left.style.color = FG_COLOURS[index % FG_COLOURS.length];
    const right = document.createElement("span");
    const share = (100 * fg.area / (detail.shape[0] * detail.shape[1])).toFixed(1);
    right.textContent = fg.saved ? `${share} %` + (fg.outside_crop ? " (cut)" : "") : (fg.proposal ? "proposal" : "empty");
    li.append(left, right);
    li.addEventListener("click", () => { app.fg = fg.letter; updatePanels(); draw(); });
    return li;
  }));
  const fg = currentForeground();
  $("#proposal").hidden = !(fg && fg.proposal);
  // Chart.
  const chart = detail.chart;
  $("#chart-state").textContent = `(${chart.state})`;
  const swatches = $("#swatches");
  swatches.replaceChildren(...(chart.swatches || new Array(24).fill(null)).map((rgb, index) => {
    const div = document.createElement("div");
    div.style.background = rgb ? `rgb(${rgb[0]},${rgb[1]},${rgb[2]})` : "repeating-linear-gradient(45deg,#333,#333 3px,#555 3px,#555 6px)";
    if (chart.clipped && chart.clipped[index]) div.className = "clipped";
    div.title = `patch ${index + 1}` + (rgb ? ` rgb(${rgb.join(", ")})` : " outside the photo");
    return div;
  }));
  $("#reference").replaceChildren(...chart.reference.map((rgb) => {
    const div = document.createElement("div");
    div.style.background = `rgb(${rgb[0]},${rgb[1]},${rgb[2]})`;
    return div;
  }));
  const orientation = $("#orientation");
  orientation.textContent = chart.orientation ? `orientation: ${chart.orientation}` : "no chart";
  orientation.className = chart.orientation === "upright" ? "" : "bad";
  // Split.
  for (const input of document.querySelectorAll('input[name="split"]')) input.checked = input.value === detail.split;
  $("#split-source").textContent = `(${detail.split_source})`;
  $("#problems").replaceChildren(...detail.problems.map((text) => Object.assign(document.createElement("li"), { textContent: text })));
  $("#crop-info").textContent = detail.crop
    ? `crop ${detail.crop.width}x${detail.crop.height} at (${detail.crop.x}, ${detail.crop.y}), ${detail.crop_source}; photo ${detail.shape[1]}x${detail.shape[0]}`
    : `no crop; photo ${detail.shape[1]}x${detail.shape[0]}`;
  document.body.dataset.history = `${detail.history.undo}/${detail.history.redo}`;
  for (const button of document.querySelectorAll("[data-tool]")) button.classList.toggle("active", button.dataset.tool === app.tool);
}

// --- view transform and drawing ----------------------------------------------------------------

const photoCanvas = $("#photo");
const maskCanvas = $("#mask");

function resizeCanvases() {
  const dpr = window.devicePixelRatio || 1;
  for (const canvas of [photoCanvas, maskCanvas]) {
    const rect = canvas.getBoundingClientRect();
    canvas.width = Math.max(1, Math.round(rect.width * dpr));
    canvas.height = Math.max(1, Math.round(rect.height * dpr));
  }
}
window.addEventListener("resize", () => { if (app.detail) { resizeCanvases(); draw(); } });

function paneOffset(canvas) {
  // The mask pane shows the same view as the photo pane, centred in its own size.
  if (canvas !== maskCanvas) return [0, 0];
  const photo = photoCanvas.getBoundingClientRect(), mask = maskCanvas.getBoundingClientRect();
  return [(mask.width - photo.width) / 2, (mask.height - photo.height) / 2];
}

function fit() {
  if (!app.detail) return;
  const rect = photoCanvas.getBoundingClientRect();
  const other = maskCanvas.getBoundingClientRect();
  const [height, width] = app.detail.shape;
  const s = Math.min(rect.width / width, rect.height / height, other.width / width, other.height / height) * 0.98;
  app.view = { s, ox: (rect.width - width * s) / 2, oy: (rect.height - height * s) / 2 };
}

function zoomAt(factor, cx, cy) {
  const v = app.view;
  const s = Math.min(64, Math.max(0.01, v.s * factor));
  const x = (cx - v.ox) / v.s, y = (cy - v.oy) / v.s;
  app.view = { s, ox: cx - x * s, oy: cy - y * s };
  draw();
}

// Image (full-frame pixels, continuous: pixel (x, y) covers [x, x+1)) <-> client (CSS px of the photo canvas).
app.toClient = (x, y) => {
  const rect = photoCanvas.getBoundingClientRect();
  return [rect.left + app.view.ox + x * app.view.s, rect.top + app.view.oy + y * app.view.s];
};
function toImage(event, canvas) {
  const rect = canvas.getBoundingClientRect();
  const [dx, dy] = paneOffset(canvas);
  return [(event.clientX - rect.left - dx - app.view.ox) / app.view.s, (event.clientY - rect.top - dy - app.view.oy) / app.view.s];
}

let drawQueued = false;
function draw() {
  if (drawQueued) return;
  drawQueued = true;
  requestAnimationFrame(() => { drawQueued = false; drawPhoto(); drawMask(); });
}

function setTransform(ctx) {
  const dpr = window.devicePixelRatio || 1;
  const [dx, dy] = paneOffset(ctx.canvas);
  ctx.setTransform(dpr * app.view.s, 0, 0, dpr * app.view.s, dpr * (app.view.ox + dx), dpr * (app.view.oy + dy));
}

function outlinePath(polygons, offset = 0) {
  // Outline vertices are pixel centres (+0.5 already); pixel (x, y) is drawn as [x, x+1).
  const path = new Path2D();
  for (const polygon of polygons) {
    if (polygon.length < 2) continue;
    path.moveTo(polygon[0][0] + offset, polygon[0][1] + offset);
    for (let i = 1; i < polygon.length; i += 1) path.lineTo(polygon[i][0] + offset, polygon[i][1] + offset);
    path.closePath();
  }
  return path;
}

function visibleRect(canvas) {
  const rect = canvas.getBoundingClientRect();
  const v = app.view;
  return [-v.ox / v.s, -v.oy / v.s, (rect.width - v.ox) / v.s, (rect.height - v.oy) / v.s];
}

function drawTiles(ctx) {
  const detail = app.detail;
  const dpr = window.devicePixelRatio || 1;
  const [height, width] = detail.shape;
  const scale = app.view.s * dpr;  // device pixels per image pixel
  const overviewScale = detail.overview_size[1] / width;
  if (scale <= overviewScale * 1.05) return;
  const level = Math.min(detail.levels - 1, Math.max(0, Math.floor(-Math.log2(scale))));
  const factor = 2 ** level;
  const side = detail.tile_side * factor;
  const [x0, y0, x1, y1] = visibleRect(photoCanvas);
  ctx.imageSmoothingEnabled = scale < 2;
  for (let row = Math.max(0, Math.floor(y0 / side)); row <= Math.min(Math.ceil(height / side) - 1, Math.floor(y1 / side)); row += 1) {
    for (let column = Math.max(0, Math.floor(x0 / side)); column <= Math.min(Math.ceil(width / side) - 1, Math.floor(x1 / side)); column += 1) {
      const key = `${detail.render_key}/${level}/${column}/${row}`;
      let tile = app.tiles.get(key);
      if (!tile) {
        if (app.tileQueue >= 6) continue;
        tile = new Image();
        app.tileQueue += 1;
        tile.onload = () => { app.tileQueue -= 1; tile.ready = true; draw(); };
        tile.onerror = () => { app.tileQueue -= 1; };
        tile.src = withToken(imagePath(detail.name, `/tiles/${level}/${column}/${row}.jpg?v=${detail.render_key}`));
        app.tiles.set(key, tile);
      }
      if (tile.ready) ctx.drawImage(tile, column * side, row * side, tile.naturalWidth * factor, tile.naturalHeight * factor);
    }
  }
  ctx.imageSmoothingEnabled = true;
}

function drawPhoto() {
  const ctx = photoCanvas.getContext("2d");
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.fillStyle = "#111";
  ctx.fillRect(0, 0, photoCanvas.width, photoCanvas.height);
  const detail = app.detail;
  if (!detail || !app.overview) return;
  const [height, width] = detail.shape;
  const s = app.view.s;
  setTransform(ctx);
  ctx.drawImage(app.overview, 0, 0, width, height);
  drawTiles(ctx);
  // What the build cuts away (the chart side) is dimmed.
  if (detail.crop) {
    const c = detail.crop;
    const dim = new Path2D();
    dim.rect(0, 0, width, height);
    dim.rect(c.x, c.y, c.width, c.height);
    ctx.fillStyle = "rgba(0,0,0,0.45)";
    ctx.fill(dim, "evenodd");
    ctx.setLineDash([6 / s, 4 / s]);
    ctx.strokeStyle = "rgba(255,255,255,0.6)";
    ctx.lineWidth = 1 / s;
    ctx.strokeRect(c.x, c.y, c.width, c.height);
    ctx.setLineDash([]);
  }
  // Foreground outlines; the selected one filled lightly.
  detail.foregrounds.forEach((fg, index) => {
    const path = outlinePath(fg.outline);
    const colour = FG_COLOURS[index % FG_COLOURS.length];
    if (fg.letter === app.fg) {
      ctx.fillStyle = "rgba(60,200,255,0.18)";
      ctx.fill(path, "evenodd");
    }
    ctx.strokeStyle = colour;
    ctx.lineWidth = (fg.letter === app.fg ? 2 : 1.2) / s;
    ctx.stroke(path);
    if (fg.proposal) {
      const proposal = outlinePath(fg.proposal);
      ctx.fillStyle = "rgba(255,0,200,0.25)";
      ctx.fill(proposal, "evenodd");
      ctx.setLineDash([5 / s, 3 / s]);
      ctx.strokeStyle = "#f0c";
      ctx.lineWidth = 2 / s;
      ctx.stroke(proposal);
      ctx.setLineDash([]);
    }
  });
  drawChart(ctx, s);
  drawGesture(ctx, s);
}

function chartCorners() {
  if (app.gesture && app.gesture.kind === "corner") return app.gesture.corners;
  return app.detail.chart.corners;
}

function drawChart(ctx, s) {
  const chart = app.detail.chart;
  const corners = chartCorners();
  if (!corners) return;
  ctx.strokeStyle = "#ff0";
  ctx.lineWidth = 1.5 / s;
  ctx.beginPath();
  corners.forEach(([x, y], i) => (i ? ctx.lineTo(x + 0.5, y + 0.5) : ctx.moveTo(x + 0.5, y + 0.5)));
  ctx.closePath();
  ctx.stroke();
  if (chart.patches && !(app.gesture && app.gesture.kind === "corner")) {
    ctx.strokeStyle = "rgba(255,255,0,0.6)";
    ctx.lineWidth = 1 / s;
    for (const quad of chart.patches) {
      ctx.beginPath();
      quad.forEach(([x, y], i) => (i ? ctx.lineTo(x + 0.5, y + 0.5) : ctx.moveTo(x + 0.5, y + 0.5)));
      ctx.closePath();
      ctx.stroke();
    }
  }
  ctx.font = `${12 / s}px system-ui`;
  corners.forEach(([x, y], i) => {
    ctx.beginPath();
    ctx.arc(x + 0.5, y + 0.5, 7 / s, 0, 2 * Math.PI);
    ctx.fillStyle = i === 0 ? "rgba(255,80,80,0.8)" : "rgba(255,255,0,0.6)";
    ctx.fill();
    ctx.fillStyle = "#fff";
    ctx.fillText(`${i + 1} ${CORNER_NAMES[i]}`, x + 0.5 + 9 / s, y + 0.5 - 9 / s);
  });
}

function drawGesture(ctx, s) {
  const g = app.gesture;
  if (g && g.kind === "box") {
    ctx.setLineDash([6 / s, 4 / s]);
    ctx.strokeStyle = "#0ff";
    ctx.lineWidth = 1.5 / s;
    ctx.strokeRect(Math.min(g.x0, g.x1), Math.min(g.y0, g.y1), Math.abs(g.x1 - g.x0), Math.abs(g.y1 - g.y0));
    ctx.setLineDash([]);
  }
  if (g && g.kind === "stroke") {
    ctx.strokeStyle = g.mode === "add" ? "rgba(80,255,120,0.5)" : "rgba(255,80,80,0.5)";
    ctx.lineWidth = 2 * g.radius;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.beginPath();
    g.points.forEach(([x, y], i) => (i ? ctx.lineTo(x + 0.5, y + 0.5) : ctx.moveTo(x + 0.5, y + 0.5)));
    if (g.points.length === 1) ctx.lineTo(g.points[0][0] + 0.5001, g.points[0][1] + 0.5);
    ctx.stroke();
  }
  if (app.polygon.length) {
    ctx.strokeStyle = "#0f8";
    ctx.lineWidth = 1.5 / s;
    ctx.beginPath();
    app.polygon.forEach(([x, y], i) => (i ? ctx.lineTo(x + 0.5, y + 0.5) : ctx.moveTo(x + 0.5, y + 0.5)));
    ctx.stroke();
    for (const [x, y] of app.polygon) ctx.fillRect(x + 0.5 - 2 / s, y + 0.5 - 2 / s, 4 / s, 4 / s);
  }
}

function drawMask() {
  const ctx = maskCanvas.getContext("2d");
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.fillStyle = "#222";
  ctx.fillRect(0, 0, maskCanvas.width, maskCanvas.height);
  const detail = app.detail;
  if (!detail) return;
  const [height, width] = detail.shape;
  const s = app.view.s;
  setTransform(ctx);
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, width, height);
  const fg = currentForeground();
  if (fg) {
    // Fill plus a one-pixel stroke: outline vertices are pixel centres, the stroke covers the half pixels.
    const path = outlinePath(fg.outline);
    ctx.fillStyle = "#fff";
    ctx.fill(path, "evenodd");
    ctx.strokeStyle = "#fff";
    ctx.lineWidth = 1;
    ctx.stroke(path);
    if (fg.proposal) {
      const proposal = outlinePath(fg.proposal);
      ctx.fillStyle = "rgba(255,0,200,0.5)";
      ctx.fill(proposal, "evenodd");
    }
  }
  if (detail.crop) {
    ctx.strokeStyle = "rgba(120,160,255,0.8)";
    ctx.lineWidth = 1 / s;
    ctx.setLineDash([6 / s, 4 / s]);
    ctx.strokeRect(detail.crop.x, detail.crop.y, detail.crop.width, detail.crop.height);
    ctx.setLineDash([]);
  }
  drawGesture(ctx, s);
}

// --- gestures -------------------------------------------------------------------------------

function cornerAt(x, y) {
  const corners = app.detail && app.detail.chart.corners;
  if (!corners) return -1;
  const radius = 10 / app.view.s;
  let best = -1, bestDistance = radius;
  corners.forEach(([cx, cy], i) => {
    const d = Math.hypot(cx + 0.5 - x, cy + 0.5 - y);
    if (d <= bestDistance) { best = i; bestDistance = d; }
  });
  return best;
}

function onPointerDown(event, canvas) {
  if (!app.detail) return;
  canvas.setPointerCapture(event.pointerId);
  const [x, y] = toImage(event, canvas);
  const tool = app.spaceDown ? "pan" : app.tool;
  if (event.button === 1 || (event.button === 0 && (tool === "pan" || tool === "chart"))) {
    const corner = canvas === photoCanvas && event.button === 0 ? cornerAt(x, y) : -1;
    if (corner >= 0) {
      app.gesture = { kind: "corner", index: corner, corners: app.detail.chart.corners.map((p) => p.slice()),
                      start: [x, y], origin: app.detail.chart.corners[corner].slice() };
    } else {
      app.gesture = { kind: "pan", cx: event.clientX, cy: event.clientY, ox: app.view.ox, oy: app.view.oy };
    }
    return;
  }
  if (event.button !== 0) return;
  if (tool === "box") {
    app.gesture = { kind: "box", x0: x, y0: y, x1: x, y1: y };
  } else if (tool === "add" || tool === "erase") {
    app.gesture = { kind: "stroke", mode: tool, radius: app.brush / app.view.s, points: [[x - 0.5, y - 0.5]] };
  } else if (tool === "polygon") {
    app.polygon.push([x - 0.5, y - 0.5]);
  }
  draw();
}

function onPointerMove(event, canvas) {
  const g = app.gesture;
  if (!g) return;
  const [x, y] = toImage(event, canvas);
  if (g.kind === "pan") {
    app.view.ox = g.ox + event.clientX - g.cx;
    app.view.oy = g.oy + event.clientY - g.cy;
  } else if (g.kind === "corner") {
    const [height, width] = app.detail.shape;
    g.corners[g.index] = [
      Math.min(width - 1, Math.max(0, g.origin[0] + x - g.start[0])),
      Math.min(height - 1, Math.max(0, g.origin[1] + y - g.start[1])),
    ];
  } else if (g.kind === "box") {
    g.x1 = x; g.y1 = y;
  } else if (g.kind === "stroke") {
    const last = g.points[g.points.length - 1];
    if (Math.hypot(last[0] - (x - 0.5), last[1] - (y - 0.5)) * app.view.s >= 1.5) g.points.push([x - 0.5, y - 0.5]);
  }
  draw();
}

async function onPointerUp(event, canvas) {
  const g = app.gesture;
  app.gesture = null;
  if (!g) return;
  const name = app.detail.name;
  if (g.kind === "corner") {
    const moved = Math.hypot(g.corners[g.index][0] - g.origin[0], g.corners[g.index][1] - g.origin[1]) > 0;
    if (moved) await saveCorners(g.corners);
    draw();
  } else if (g.kind === "box") {
    const wide = Math.abs(g.x1 - g.x0) * app.view.s > 4 && Math.abs(g.y1 - g.y0) * app.view.s > 4;
    draw();
    if (!wide) return;
    const letter = await ensureForeground();
    setStatus("saving", "GrabCut\u2026");
    const box = [Math.min(g.x0, g.x1) - 0.5, Math.min(g.y0, g.y1) - 0.5, Math.max(g.x0, g.x1) - 0.5, Math.max(g.y0, g.y1) - 0.5];
    await applyDetail(await api("POST", imagePath(name, `/foregrounds/${letter}/propose`), { box }));
  } else if (g.kind === "stroke") {
    const letter = await ensureForeground();
    const fg = currentForeground();
    await applyDetail(await api("POST", imagePath(name, `/foregrounds/${letter}/stroke`),
      { points: g.points, radius: g.radius, mode: g.mode, version: fg ? fg.version : null }));
  }
}

for (const canvas of [photoCanvas, maskCanvas]) {
  canvas.addEventListener("pointerdown", (event) => onPointerDown(event, canvas));
  canvas.addEventListener("pointermove", (event) => onPointerMove(event, canvas));
  canvas.addEventListener("pointerup", (event) => { onPointerUp(event, canvas).catch(() => {}); });
  canvas.addEventListener("wheel", (event) => {
    event.preventDefault();
    const rect = canvas.getBoundingClientRect();
    const [dx, dy] = paneOffset(canvas);
    zoomAt(Math.pow(1.0015, -event.deltaY), event.clientX - rect.left - dx, event.clientY - rect.top - dy);
  }, { passive: false });
  canvas.addEventListener("dblclick", () => { if (app.tool === "polygon") closePolygon(false).catch(() => {}); });
}

// --- actions -----------------------------------------------------------------------------------

async function ensureForeground() {
  if (app.fg && app.detail.foregrounds.some((f) => f.letter === app.fg)) return app.fg;
  const detail = await api("POST", imagePath(app.detail.name, "/foregrounds"));
  await applyDetail(detail);
  return app.fg;
}

async function saveCorners(corners) {
  const detail = app.detail;
  await applyDetail(await api("PUT", imagePath(detail.name, "/chart"), { corners, version: detail.chart.version }));
}

async function closePolygon(erase) {
  if (app.polygon.length < 3) { app.polygon = []; draw(); return; }
  const points = app.polygon;
  app.polygon = [];
  const letter = await ensureForeground();
  const fg = currentForeground();
  await applyDetail(await api("POST", imagePath(app.detail.name, `/foregrounds/${letter}/polygon`),
    { points, mode: erase ? "erase" : "add", version: fg ? fg.version : null }));
}

async function action(name, event) {
  const detail = app.detail;
  if (!detail) return;
  const fg = currentForeground();
  const path = (rest) => imagePath(detail.name, rest);
  switch (name) {
    case "undo": return applyDetail(await api("POST", path("/undo")));
    case "redo": return applyDetail(await api("POST", path("/redo")));
    case "fit": fit(); return draw();
    case "one": {
      const rect = photoCanvas.getBoundingClientRect();
      return zoomAt(1 / (app.view.s * (window.devicePixelRatio || 1)), rect.width / 2, rect.height / 2);
    }
    case "new": return applyDetail(await api("POST", path("/foregrounds")));
    case "accept":
      if (fg && fg.proposal) return applyDetail(await api("POST", path(`/foregrounds/${fg.letter}/accept`), { version: fg.version }));
      return;
    case "reject":
      if (fg && fg.proposal) return applyDetail(await api("POST", path(`/foregrounds/${fg.letter}/reject`)));
      return;
    case "refine":
      if (!fg) return;
      setStatus("saving", "GrabCut\u2026");
      return applyDetail(await api("POST", path(`/foregrounds/${fg.letter}/refine`), { iterations: 3, version: fg.version }));
    case "delete":
      if (!fg) return;
      return applyDetail(await api("POST", path(`/foregrounds/${fg.letter}/delete`), { version: fg.version }));
    case "rotate":
      if (!detail.chart.corners) return;
      return saveCorners([...detail.chart.corners.slice(1), detail.chart.corners[0]]);
    case "place": return applyDetail(await api("POST", path("/chart/place")));
    case "detected": return applyDetail(await api("POST", path("/chart/reset"), { version: detail.chart.version }));
    case "suggested": return applyDetail(await api("PUT", path("/split"), { split: null }));
    case "toggle-split":
      return applyDetail(await api("PUT", path("/split"), { split: detail.split === "train" ? "test" : "train" }));
    case "save":
      if (app.pending === 0) setStatus("saved", "All changes saved");
      return;
    default: return undefined;
  }
}

for (const button of document.querySelectorAll("[data-action]")) {
  button.addEventListener("click", (event) => { action(button.dataset.action, event).catch(() => {}); });
}
for (const button of document.querySelectorAll("[data-tool]")) {
  button.addEventListener("click", () => setTool(button.dataset.tool));
}
for (const input of document.querySelectorAll('input[name="split"]')) {
  input.addEventListener("change", () => {
    if (app.detail) api("PUT", imagePath(app.detail.name, "/split"), { split: input.value }).then(applyDetail).catch(() => {});
  });
}

function setTool(tool) {
  app.tool = tool;
  if (tool !== "polygon") app.polygon = [];
  updatePanels();
  draw();
}

function setBrush(value) {
  app.brush = Math.max(2, Math.min(120, Math.round(value)));
  $("#brush").value = app.brush;
  $("#brush-value").textContent = app.brush;
}
$("#brush").addEventListener("input", () => setBrush(Number($("#brush").value)));

$("#back").addEventListener("click", () => { location.hash = ""; });
$("#prev").addEventListener("click", () => { if (app.detail && app.detail.previous) location.hash = "#image=" + encodeURIComponent(app.detail.previous); });
$("#next").addEventListener("click", () => { if (app.detail && app.detail.next) location.hash = "#image=" + encodeURIComponent(app.detail.next); });
$("#help-button").addEventListener("click", () => { $("#help").hidden = false; });
$("#help-close").addEventListener("click", () => { $("#help").hidden = true; });
$("#banner-close").addEventListener("click", () => { $("#banner").hidden = true; });
$("#banner-reload").addEventListener("click", async () => {
  $("#banner").hidden = true;
  setStatus("saved", "All changes saved");
  if (app.detail) await applyDetail(await api("POST", imagePath(app.detail.name, "/reload")));
  else await api("POST", "/api/reload").then(() => loadList());
});

const TOOL_KEYS = { h: "pan", b: "box", a: "add", e: "erase", p: "polygon", c: "chart" };

document.addEventListener("keydown", (event) => {
  if (event.target instanceof HTMLInputElement && event.target.type !== "radio" && event.target.type !== "range") return;
  const key = event.key;
  const ctrl = event.ctrlKey || event.metaKey;
  if (key === "?") { $("#help").hidden = !$("#help").hidden; return; }
  if (key === "Escape" && !$("#help").hidden) { $("#help").hidden = true; return; }
  if (!app.detail) return;
  const run = (name) => { event.preventDefault(); action(name, event).catch(() => {}); };
  if (ctrl && (key === "z" || key === "Z")) return run(event.shiftKey ? "redo" : "undo");
  if (ctrl && (key === "y" || key === "Y")) return run("redo");
  if (ctrl && (key === "s" || key === "S")) return run("save");
  if (ctrl) return;
  if (key === " ") { app.spaceDown = true; event.preventDefault(); return; }
  if (key === "Enter") {
    event.preventDefault();
    if (app.polygon.length) { closePolygon(event.shiftKey).catch(() => {}); return; }
    return run("accept");
  }
  if (key === "Escape") {
    if (app.polygon.length) { app.polygon = []; draw(); return; }
    return run("reject");
  }
  const lower = key.toLowerCase();
  if (TOOL_KEYS[lower]) return setTool(TOOL_KEYS[lower]);
  if (lower === "r") return run("refine");
  if (lower === "n") return run("new");
  if (lower === "o") return run("rotate");
  if (lower === "t") return run("toggle-split");
  if (lower === "g") return run("suggested");
  if (lower === "f") return run("fit");
  if (key === "0") return run("one");
  if (key === "+" || key === "=") { const r = photoCanvas.getBoundingClientRect(); return zoomAt(1.25, r.width / 2, r.height / 2); }
  if (key === "-") { const r = photoCanvas.getBoundingClientRect(); return zoomAt(0.8, r.width / 2, r.height / 2); }
  if (key === "[") return setBrush(app.brush / 1.25);
  if (key === "]") return setBrush(app.brush * 1.25);
  if (key === "Delete") return run("delete");
  if (/^[1-9]$/.test(key)) {
    const fg = app.detail.foregrounds[Number(key) - 1];
    if (fg) { app.fg = fg.letter; updatePanels(); draw(); }
    return;
  }
  if (lower === "j" || key === "PageDown") { $("#next").click(); return; }
  if (lower === "k" || key === "PageUp") { $("#prev").click(); return; }
  if (lower === "l") { location.hash = ""; }
});
document.addEventListener("keyup", (event) => { if (event.key === " ") app.spaceDown = false; });

route();
