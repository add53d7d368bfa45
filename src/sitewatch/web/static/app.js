// sitewatch dashboard: a small hash-routed single page over the JSON API. No framework,
// no CDN: Leaflet and uPlot are bundled in /static/vendor. Every value from the API is
// inserted as text (never as HTML) so nothing in the data can run as script.
"use strict";

const $ = (sel, el = document) => el.querySelector(sel);
const view = () => $("#view");
const state = { map: null, layers: null, tracks: [], events: [], site: null, es: null, liveCount: 0 };

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "onclick") el.addEventListener("click", v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

async function api(path) {
  const r = await fetch(path, { credentials: "same-origin" });
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return r.json();
}

function fmtT(t) { return t ? t.replace("T", " ").replace(/\.\d+/, "").replace("Z", "Z") : ""; }
function ms(t) { return Date.parse(t); }

// ---------------------------------------------------------------------------- provenance
function showProvenance(title, obj) {
  const aside = $("#provenance");
  const body = $("#prov-body");
  body.replaceChildren(h("h4", {}, title));
  if (obj && obj.evidence_rows) {
    obj.evidence_rows.forEach((rows, i) => {
      const ref = (obj.evidence || [])[i] || {};
      body.append(h("p", { class: "muted" }, `evidence ${i + 1}: ${ref.table || ""} ${ref.id || ref.event_id || ""}`));
      const files = [...new Set(rows.map(r => `${r.path || "?"} sha256:${(r.sha256 || "").slice(0, 12)}`))];
      files.forEach(f => body.append(h("div", { class: "prov-file" }, "file: " + f)));
      if (rows.length) body.append(table(rows.slice(0, 20), Object.keys(rows[0]).filter(k => k !== "sha256")));
    });
  }
  body.append(h("pre", {}, JSON.stringify(obj, null, 2)));
  aside.hidden = false;
}

function table(rows, cols, onclick) {
  const t = h("table", {}, h("thead", {}, h("tr", {}, cols.map(c => h("th", {}, c)))));
  const tb = h("tbody");
  rows.forEach(r => {
    const tr = h("tr", onclick ? { class: "clickable" } : {}, cols.map(c => {
      let v = r[c];
      if (v && typeof v === "object") v = JSON.stringify(v);
      if (typeof v === "number") v = Math.round(v * 1000) / 1000;
      return h("td", {}, v === null || v === undefined ? "" : String(v).slice(0, 160));
    }));
    if (onclick) tr.addEventListener("click", () => onclick(r));
    tb.append(tr);
  });
  t.append(tb);
  return t;
}

// ---------------------------------------------------------------------------- sites page
async function pageSites() {
  const last = localStorage.getItem("sw_last_visit");
  const sites = await api("/api/sites" + (last ? `?since=${encodeURIComponent(last)}` : ""));
  localStorage.setItem("sw_last_visit", new Date().toISOString());
  const cards = h("div", { class: "cards" });
  if (!sites.length) cards.append(h("p", { class: "muted" }, "No sites yet: sitewatch site add NAME --airport ICAO"));
  sites.forEach(s => {
    const a = (s.assessment || [])[0];
    cards.append(h("div", { class: "card site-card", "data-site": s.name },
      h("h2", {}, h("a", { href: `#/site/${s.name}` }, s.name)),
      h("div", { class: "muted" }, `${s.kind} · ${s.label || ""}`),
      a ? h("p", {}, h("strong", {}, `${a.hypothesis}: ${a.likelihood}`), ` (${a.confidence} confidence, p=${a.probability.toFixed(2)})`)
        : h("p", { class: "muted" }, "no assessment yet (sitewatch assess)"),
      h("p", {}, `${s.events_24h} events in the last 24 h `,
        s.new_since ? h("span", { class: "badge new" }, `${s.new_since} new since last visit`) : null),
      (s.indicators || []).length ? table(s.indicators, ["indicator", "value", "score", "status"]) : null));
  });
  view().replaceChildren(h("h1", {}, "Sites"), cards);
}

// ---------------------------------------------------------------------------- site page
async function pageSite(name) {
  const [site, tracks, events, timeline, indicators] = await Promise.all([
    api(`/api/sites/${name}`), api(`/api/sites/${name}/tracks`), api(`/api/events?site=${name}&limit=5000`),
    api(`/api/sites/${name}/timeline`), api(`/api/sites/${name}/indicators`)]);
  state.site = site; state.tracks = tracks.features; state.events = events;
  const times = [];
  state.tracks.forEach(f => f.properties.times.forEach(t => times.push(ms(t))));
  events.forEach(e => { times.push(ms(e.t_start)); if (e.t_end) times.push(ms(e.t_end)); });
  const tMin = times.length ? Math.min(...times) : Date.now() - 86400e3;
  const tMax = times.length ? Math.max(...times) : Date.now();
  const slider = h("input", { type: "range", id: "time-slider", min: String(tMin), max: String(tMax), value: String(tMax), step: "60000" });
  const label = h("span", { id: "time-label" }, new Date(tMax).toISOString());
  view().replaceChildren(
    h("h1", {}, `${name} `, h("span", { class: "muted" }, site.site.label || "")),
    h("div", { class: "site-grid" },
      h("div", {},
        h("div", { id: "map" }),
        h("div", { class: "slider" }, h("span", {}, "show up to"), slider, label),
        h("div", { class: "panel" }, h("h3", {}, "Indicators"), h("div", { id: "charts" }))),
      h("div", {},
        h("div", { class: "panel" }, h("h3", {}, "Assessment"), h("div", { id: "assessment" })),
        h("div", { class: "panel" }, h("h3", {}, `Timeline (${timeline.source})`), h("div", { id: "timeline" })))),
    h("div", { class: "panel" }, h("h3", {}, "Evidence"), h("div", { id: "evidence" })));
  drawMap(site);
  slider.addEventListener("input", () => { label.textContent = new Date(+slider.value).toISOString(); filterTime(+slider.value); });
  filterTime(tMax);
  renderTimeline(timeline.rows);
  renderCharts(indicators);
  api(`/api/sites/${name}/assessment`).then(renderAssessment);
  const evCols = ["t_start", "kind", "subject", "confidence", "summary"];
  $("#evidence").append(table(events, evCols, openEvent));
}

function renderAssessment(rows) {
  const el = $("#assessment");
  if (!rows.length) { el.replaceChildren(h("p", { class: "muted" }, "No assessment issued yet.")); return; }
  const body = a => (typeof a.body === "string" ? JSON.parse(a.body) : (a.body || {}));
  const lead = body(rows[0]);
  const parts = [
    h("p", { class: "muted" }, `as of ${fmtT(rows[0].t_as_of)} · issued ${fmtT(rows[0].t_issued_utc)} · revision ${rows[0].revision}`),
    h("p", {}, h("strong", {}, (lead.judgement || {}).text || `${rows[0].hypothesis}: ${rows[0].likelihood}`)),
    h("p", { class: "muted" }, (lead.confidence_sentence || {}).text || ""),
    table(rows.map(a => ({ hypothesis: a.hypothesis, probability: `${(a.probability * 100).toFixed(1)}%`,
                           likelihood: a.likelihood, confidence: a.confidence })),
          ["hypothesis", "probability", "likelihood", "confidence"])];
  const ach = lead.ach || {};
  if ((ach.rows || []).length) {
    const order = ach.order || [];
    const achRows = ach.rows.map(r => {
      const o = { evidence: `${r.label} (${r.state})`, diag: r.diagnostic ? r.diagnosticity.toFixed(1) : "non-diagnostic" };
      order.forEach(hh => { o[hh] = r.cells[hh].consistency; });
      return o;
    });
    parts.push(h("h4", {}, "ACH matrix (CC/C consistent, N neutral, I/II inconsistent)"),
      table(achRows, ["evidence", ...order, "diag"]));
    (ach.linchpins || []).forEach(l => parts.push(h("p", {}, `Linchpin: without “${l.label}” the leader would be ${l.leader_without}.`)));
    if ((ach.separator || {}).text) parts.push(h("p", {}, ach.separator.text));
  }
  el.replaceChildren(...parts);
}

function renderTimeline(rows) {
  const cols = rows.length && "evidence_id" in rows[0] ? ["t_start", "kind", "sensor", "text"] : ["t_start", "kind", "subject", "summary"];
  $("#timeline").replaceChildren(table(rows, cols, r => r.event_id ? openEvent(r) : showProvenance(r.kind, r)));
}

async function openEvent(e) {
  try { showProvenance(`${e.kind} ${e.subject || ""}`, await api(`/api/events/${e.event_id}`)); }
  catch (err) { showProvenance("error", { error: String(err) }); }
}

function renderCharts(ind) {
  const el = $("#charts");
  if (!ind.available || !ind.series.length) { el.replaceChildren(h("p", { class: "muted" }, "No indicators yet (sitewatch assess computes them).")); return; }
  el.replaceChildren();
  ind.series.slice(0, 8).forEach(s => {
    const pts = (s.points || []).filter(p => p.value !== null && p.value !== undefined);
    if (!pts.length) return;
    const box = h("div", { class: "chart" }, h("div", { class: "muted" }, s.label || s.name || s.kind));
    el.append(box);
    const xs = pts.map(p => ms(p.t || p.day) / 1000);
    if (s.sentence) box.append(h("div", { class: "muted" }, s.sentence));
    const data = [xs, pts.map(p => p.value), pts.map(p => p.baseline ?? null)];
    new uPlot({ width: Math.max(300, el.clientWidth - 10), height: 140,
      series: [{}, { label: "value", stroke: "#2563eb" }, { label: "baseline", stroke: "#9ca3af", dash: [4, 4] }] }, data, box);
  });
}

const COLORS = { adsb: "#2563eb", ais: "#059669" };

function drawMap(site) {
  if (state.map) { state.map.remove(); state.map = null; }
  const map = L.map("map", { attributionControl: false });
  state.map = map;
  const area = L.geoJSON(site, { style: f => ({ color: f.properties.zone ? "#d97706" : "#111827", weight: f.properties.zone ? 1.5 : 2, fillOpacity: 0.05 }) })
    .bindTooltip(l => l.feature.properties.zone || site.site.name).addTo(map);
  map.fitBounds(area.getBounds().pad(2));
  api(`/api/basemap?lat=${site.site.lat}&lon=${site.site.lon}`).then(b => {
    if (b && b.features) L.geoJSON(b, { style: { color: "#9ca3af", weight: 1, fillColor: "#f3f1e7", fillOpacity: 1 }, interactive: false }).addTo(map).bringToBack();
  }).catch(() => {});
  state.layers = L.layerGroup().addTo(map);
}

function filterTime(tCut) {
  const layers = state.layers; if (!layers) return;
  layers.clearLayers();
  state.tracks.forEach(f => {
    const coords = [];
    f.properties.times.forEach((t, i) => { if (ms(t) <= tCut) coords.push([f.geometry.coordinates[i][1], f.geometry.coordinates[i][0]]); });
    if (coords.length < 2) return;
    L.polyline(coords, { color: COLORS[f.properties.source] || "#444", weight: 2, opacity: 0.8, className: "track" })
      .bindTooltip(`${f.properties.source} ${f.properties.id}`)
      .on("click", () => showProvenance(`track ${f.properties.id}`, { source: f.properties.source, id: f.properties.id,
        points: coords.length, first: f.properties.times[0], last: f.properties.times[f.properties.times.length - 1],
        ingest_file_ids: f.properties.file_ids }))
      .addTo(layers);
  });
  state.events.forEach(e => {
    if (ms(e.t_start) > tCut || e.lat === null || e.lon === null) return;
    const dark = e.kind === "dark-gap" || e.kind === "dark-visit";
    const m = L.circleMarker([e.lat, e.lon], { radius: 6, color: dark ? "#b91c1c" : "#7c3aed", weight: 2, className: "event-marker" })
      .bindTooltip(`${e.kind} ${e.subject || ""}`).on("click", () => openEvent(e)).addTo(layers);
    const d = e.details || {};
    const last = d.last || d.lost || d.before; const first = d.first || d.reacquired || d.after;
    if (dark && last && first && last.lat !== undefined && first.lat !== undefined) {
      const site = state.site.site;
      const path = e.kind === "dark-visit" ? [[last.lat, last.lon], [site.lat, site.lon], [first.lat, first.lon]] : [[last.lat, last.lon], [first.lat, first.lon]];
      L.polyline(path, { color: "#b91c1c", dashArray: "6 6", weight: 2, className: "dark-link" }).on("click", () => openEvent(e)).addTo(layers);
    }
    return m;
  });
}

// ---------------------------------------------------------------------------- other pages
async function pageSubject(id) {
  const s = await api(`/api/subjects/${encodeURIComponent(id)}`);
  view().replaceChildren(h("h1", {}, id), h("pre", {}, JSON.stringify({ aircraft: s.aircraft, vessel: s.vessel, positions: s.positions }, null, 2)),
    h("div", { class: "panel" }, h("h3", {}, "Events"), table(s.events, ["t_start", "kind", "site", "confidence", "summary"], openEvent)));
}

function pageQuery() {
  const out = h("div", { id: "query-out" });
  const form = h("form", { class: "query" },
    h("label", {}, "A (site or bbox)", h("input", { name: "a", placeholder: "hmeimim", required: "" })),
    h("label", {}, "B (site or bbox)", h("input", { name: "b", placeholder: "34.0,30.0,36.0,32.0", required: "" })),
    h("label", {}, "min gap (h)", h("input", { name: "min", type: "number", value: "1", step: "0.5" })),
    h("label", {}, "max gap (h)", h("input", { name: "max", type: "number", value: "8", step: "0.5" })),
    h("button", { type: "submit" }, "Run two-box query"));
  form.addEventListener("submit", async ev => {
    ev.preventDefault();
    const f = new FormData(form);
    const q = new URLSearchParams({ a: f.get("a"), b: f.get("b"), min_gap_s: String(f.get("min") * 3600), max_gap_s: String(f.get("max") * 3600) });
    try {
      const rows = await api(`/api/query/two-box?${q}`);
      out.replaceChildren(rows.length ? table(rows, Object.keys(rows[0])) : h("p", { class: "muted" }, "no aircraft matched"));
    } catch (err) { out.replaceChildren(h("p", {}, String(err))); }
  });
  view().replaceChildren(h("h1", {}, "Queries"), h("div", { class: "panel" }, h("h3", {}, "Seen in A, then in B"), form, out));
}

async function pageAlerts() {
  const rows = await api("/api/alerts");
  view().replaceChildren(h("h1", {}, "Alerts"), rows.length ? table(rows, ["t_fired_utc", "rule", "site", "text", "delivery"]) : h("p", { class: "muted" }, "No alerts raised."));
}

// ---------------------------------------------------------------------------- live updates
function startLive() {
  if (!window.EventSource) return;
  const es = new EventSource("/api/stream");
  state.es = es;
  const badge = $("#live");
  es.onopen = () => { badge.textContent = "live"; badge.className = "live on"; };
  es.onerror = () => { badge.textContent = "live: reconnecting"; badge.className = "live off"; };
  es.addEventListener("events", m => {
    const evs = JSON.parse(m.data);
    state.liveCount += evs.length;
    badge.textContent = `live · ${state.liveCount} new`;
    if (state.site) {
      const mine = evs.filter(e => e.site === state.site.site.name);
      mine.forEach(e => { e.details = e.details || {}; state.events.push(e); });
      const tl = $("#timeline table tbody");
      mine.forEach(e => {
        const tr = h("tr", { class: "clickable live-row" }, h("td", {}, e.t_start), h("td", {}, e.kind), h("td", {}, e.subject || ""), h("td", {}, e.summary || ""));
        tr.addEventListener("click", () => openEvent(e));
        if (tl) tl.prepend(tr);
      });
      if (mine.length) filterTime(+($("#time-slider") || { value: Date.now() }).value);
    }
  });
  es.addEventListener("positions", m => {
    const pts = JSON.parse(m.data);
    if (!state.site) return;
    pts.forEach(p => {
      let f = state.tracks.find(t => t.properties.id === p.id && t.properties.source === p.source);
      if (!f) { f = { type: "Feature", properties: { id: p.id, source: p.source, times: [], alt_ft: [], file_ids: [] }, geometry: { type: "LineString", coordinates: [] } }; state.tracks.push(f); }
      f.properties.times.push(p.t_utc); f.geometry.coordinates.push([p.lon, p.lat]);
    });
    const s = $("#time-slider");
    if (s) { const tMax = Math.max(+s.max, ...pts.map(p => ms(p.t_utc))); s.max = String(tMax); s.value = String(tMax); filterTime(tMax); }
  });
}

// ---------------------------------------------------------------------------- router
async function route() {
  const hash = location.hash || "#/";
  $("#provenance").hidden = true;
  try {
    if (hash.startsWith("#/site/")) await pageSite(decodeURIComponent(hash.slice(7)));
    else if (hash.startsWith("#/subject/")) await pageSubject(decodeURIComponent(hash.slice(10)));
    else if (hash === "#/query") pageQuery();
    else if (hash === "#/alerts") await pageAlerts();
    else await pageSites();
  } catch (err) {
    view().replaceChildren(h("p", {}, `Could not load: ${err}`));
  }
}

$("#prov-close").addEventListener("click", () => { $("#provenance").hidden = true; });
window.addEventListener("hashchange", route);
route();
startLive();
