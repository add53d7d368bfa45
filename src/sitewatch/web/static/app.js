// sitewatch dashboard: a small hash-routed single page over the JSON API. No framework,
// no CDN: Leaflet and uPlot are bundled in /static/vendor. Every value from the API is
// inserted as text (never as HTML) so nothing in the data can run as script.
"use strict";

const $ = (sel, el = document) => el.querySelector(sel);
const view = () => $("#view");
const DAY = 86400e3;
const TABLE_ROWS = 100; // rows shown before "show all"
const state = { map: null, layers: null, tracks: [], events: [], timeline: [], site: null, es: null, liveCount: 0,
                win: null, health: null, indicators: null };

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "onclick") el.addEventListener("click", v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// ---------------------------------------------------------------------------- API and errors
class ApiError extends Error {}

function detailText(detail) {
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {  // FastAPI's validation errors: [{loc, msg, type}]
    return detail.map(d => {
      const where = (d.loc || []).filter(x => !["query", "path", "body"].includes(x)).join(".");
      return where ? `${where}: ${d.msg}` : d.msg;
    }).join("; ");
  }
  return detail ? JSON.stringify(detail) : "";
}

async function api(path) {
  const r = await fetch(path, { credentials: "same-origin" });
  if (!r.ok) {
    let msg = "";
    try { msg = detailText((await r.json()).detail); } catch (_) { /* not JSON */ }
    throw new ApiError(msg || `the server answered ${r.status} ${r.statusText}`);
  }
  return r.json();
}

function errorBox(err) {
  const msg = err instanceof ApiError ? err.message : String(err && err.message || err);
  return h("p", { class: "error", role: "alert" }, h("strong", {}, "The server refused this: "), msg);
}

// ---------------------------------------------------------------------------- formatting
function fmtT(t) {  // ISO time to the second, UTC
  if (!t) return "";
  const d = new Date(typeof t === "number" ? t : Date.parse(t));
  if (isNaN(d)) return String(t);
  return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}
function fmtDay(t) { return fmtT(t).slice(0, 10); }
function ms(t) { return Date.parse(t); }
function fmtNum(v) {
  if (typeof v !== "number") return v;
  if (Number.isInteger(v)) return v.toLocaleString("en-GB");
  return (Math.round(v * 100) / 100).toLocaleString("en-GB");
}
function pct(p) { return p < 0.0005 ? "< 0.1 %" : `${(p * 100).toFixed(p < 0.1 ? 1 : 0)} %`; }
function kindOf(r) { return r.canonical_kind || r.kind || ""; }
function simBadge(on) { return on ? h("span", { class: "badge sim-badge", title: "simulated data" }, "SIM") : null; }

// a value as words: nested objects become "key value, key value" (never raw JSON)
function words(v) {
  if (v === null || v === undefined) return "";
  if (Array.isArray(v)) return v.map(words).join(", ");
  if (typeof v === "object") return Object.entries(v).map(([k, x]) => `${k.replace(/_/g, " ")} ${words(x)}`).join(", ");
  if (typeof v === "number") return fmtNum(v);
  if (typeof v === "boolean") return v ? "yes" : "no";
  if (typeof v === "string" && /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(v)) return fmtT(v);
  const parsed = typeof v === "string" ? parseJson(v) : undefined;
  return parsed === undefined ? String(v) : words(parsed);
}

// JSON text stored in a column ("{…}" / "[…]"), decoded so that it can be shown as words
function parseJson(text) {
  if (!/^\s*[[{]/.test(text)) return undefined;
  try { return JSON.parse(text); } catch (_) { return undefined; }
}

const TIME_COL = /^t_|_utc$|^t$|first_seen|last_seen/;

function cellText(c, v) {
  if (v === null || v === undefined) return "";
  if (TIME_COL.test(c) && typeof v === "string") return fmtT(v);
  if (typeof v === "number") return fmtNum(v);
  return words(v);
}

// a table that wraps its text, scrolls sideways inside its own box, and shows TABLE_ROWS rows
// until asked for all
function table(rows, cols, onclick, opts = {}) {
  const labels = opts.labels || {};
  const limit = opts.limit || TABLE_ROWS;
  const t = h("table", { class: opts.stack ? "stack" : null }, h("thead", {}, h("tr", {}, cols.map(c => h("th", {}, labels[c] || c.replace(/_/g, " "))))));
  const tb = h("tbody");
  const draw = n => {
    tb.replaceChildren();
    rows.slice(0, n).forEach(r => {
      const tds = cols.map(c => {
        const cls = typeof r[c] === "number" ? "num" : (TIME_COL.test(c) ? "t" : (c === "kind" ? "k" : null));
        const td = h("td", { class: cls }, cellText(c, r[c]));
        if (c === opts.simCol && r.simulated) td.append(" ", simBadge(true));
        return td;
      });
      const tr = h("tr", onclick ? { class: "clickable", tabindex: "0" } : {}, tds);
      if (onclick) {
        tr.addEventListener("click", () => onclick(r));
        tr.addEventListener("keydown", e => { if (e.key === "Enter") onclick(r); });
      }
      tb.append(tr);
    });
  };
  draw(limit);
  t.append(tb);
  const wrap = h("div", { class: "table-wrap" }, t);
  if (rows.length > limit) {
    const more = h("button", { class: "more", type: "button" }, `show all ${rows.length} rows`);
    more.addEventListener("click", () => { draw(rows.length); more.remove(); });
    wrap.append(more);
  }
  return wrap;
}

function dl(pairs) {
  const el = h("dl", { class: "kv" });
  pairs.forEach(([k, v]) => {
    if (v === null || v === undefined || v === "" || (Array.isArray(v) && !v.length)) return;
    el.append(h("dt", {}, k), h("dd", {}, valueNode(v)));
  });
  return el;
}

// a value for people: a list of records becomes a table, a record a nested list, the rest words
function valueNode(v) {
  if (v instanceof Node) return v;
  const isRecord = x => x && typeof x === "object" && !Array.isArray(x);
  if (Array.isArray(v) && v.length && v.every(isRecord)) {
    const cols = [...new Set(v.flatMap(Object.keys))];
    return table(v, cols, null, { limit: 10 });
  }
  if (isRecord(v)) return dl(Object.entries(v).map(([k, x]) => [k.replace(/_/g, " "), x]));
  return words(v);
}

// ---------------------------------------------------------------------------- SIMULATED banner
function setBanner(text) {
  const b = $("#sim-banner");
  if (!b) return;
  if (text) { b.textContent = text; b.hidden = false; } else { b.hidden = true; }
}

function workspaceBanner() {
  return state.health && state.health.simulated
    ? "SIMULATED — this workspace holds simulated data (the files are marked SIMULATED): nothing here is a real observation."
    : null;
}

// ---------------------------------------------------------------------------- provenance
function openAside(title, ...parts) {
  const body = $("#prov-body");
  body.replaceChildren(h("h4", {}, title), ...parts);
  $("#provenance").hidden = false;
  body.scrollTop = 0;
}

const HIDDEN_COLS = new Set(["sha256", "path", "file_id", "row", "rowid"]);

function fileLine(rows) {
  const files = new Map();
  rows.forEach(r => { if (r.path || r.sha256) files.set(r.sha256 || r.path, r); });
  return [...files.values()].map(r => h("div", { class: "prov-file" },
    "file ", h("strong", {}, (r.path || "?").split("/").pop()), r.sha256 ? ` · sha256 ${r.sha256.slice(0, 12)}…` : ""));
}

function evidenceBlock(ref, rows, i) {
  const what = ref.table === "positions"
    ? `positions of ${ref.id || "?"}${ref.t_from ? ` from ${fmtT(ref.t_from)} to ${fmtT(ref.t_to)}` : ""}`
    : `${ref.table || "rows"} ${ref.id || ref.event_id || ref.scene_id || ""}`;
  const parts = [h("h5", {}, `evidence ${i + 1}: ${ref.table || ""} ${ref.id || ref.event_id || ""}`.trim()),
                 h("p", { class: "muted" }, `${what} — ${rows.length} row${rows.length === 1 ? "" : "s"}`), ...fileLine(rows)];
  if (ref.table === "events") {  // an event this one rests on: its sentence and a way to open it
    rows.forEach(r => parts.push(h("p", {}, r.summary || r.kind),
      h("button", { type: "button", class: "more", onclick: () => openEvent(r) }, `open this ${r.kind || "event"}`)));
  } else if (rows.length) {
    const cols = Object.keys(rows[0]).filter(k => !HIDDEN_COLS.has(k) && rows.some(r => r[k] !== null && r[k] !== undefined));
    parts.push(table(rows, cols, null, { limit: 25 }));
  }
  return h("section", { class: "evidence-block" }, parts);
}

function showEvent(ev) {
  const d = ev.details || {};
  const subj = ev.subject ? h("a", { href: `#/subject/${encodeURIComponent(ev.subject)}` }, ev.subject) : null;
  const parts = [
    ev.summary ? h("p", { class: "summary" }, ev.summary) : null,
    dl([["kind", kindOf(ev)], ["site", ev.site || "no watched site"],
        ["when", ev.t_end ? `${fmtT(ev.t_start)} to ${fmtT(ev.t_end)}` : fmtT(ev.t_start)],
        ["subject", subj], ["confidence", ev.confidence], ["position", ev.lat !== null && ev.lat !== undefined ? `${fmtNum(ev.lat)}, ${fmtNum(ev.lon)}` : null],
        ["found by", ev.analysis]]),
    Object.keys(d).length ? h("h5", {}, "details") : null,
    Object.keys(d).length ? dl(Object.entries(d).map(([k, v]) => [k.replace(/_/g, " "), v])) : null];
  (ev.evidence_rows || []).forEach((rows, i) => parts.push(evidenceBlock((ev.evidence || [])[i] || {}, rows, i)));
  openAside(`${kindOf(ev)} ${ev.subject || ""}`, ...parts);
}

async function openEvent(e) {
  try { showEvent(await api(`/api/events/${encodeURIComponent(e.event_id)}`)); }
  catch (err) { openAside("Could not load the event", errorBox(err)); }
}

function openEvidence(r) {
  const ref = r.ref && typeof r.ref === "object" ? r.ref : {};
  const parts = [
    h("p", { class: "summary" }, r.text || ""),
    dl([["kind", r.kind], ["when", r.t_end ? `${fmtT(r.t_start)} to ${fmtT(r.t_end)}` : fmtT(r.t_start)],
        ["sensor", r.sensor], ["provider", r.provider], ["value", r.value], ["confidence", r.confidence],
        ["simulated", r.simulated ? "yes — SIMULATED data" : "no"], ["subject", r.subject],
        ["source files (sha256)", (r.file_sha256 || "").split(",").filter(Boolean).map(x => x.slice(0, 12) + "…")],
        ["evidence id", r.evidence_id]]),
    Object.keys(ref).length ? h("h5", {}, "reference") : null,
    Object.keys(ref).length ? dl(Object.entries(ref).map(([k, v]) => [k.replace(/_/g, " "), v])) : null];
  if (ref.table === "events" && ref.event_id) {
    parts.push(h("button", { type: "button", class: "more", onclick: () => openEvent({ event_id: ref.event_id }) },
      "open the event and the positions it rests on"));
  }
  openAside(r.kind || "evidence", ...parts);
}

// ---------------------------------------------------------------------------- sites page
function asOfLine(a) {
  const bits = [`as of ${fmtT(a.t_as_of)}`];
  if (a.evidence_through) bits.push(`evidence through ${fmtDay(a.evidence_through)}`);
  if (a.t_issued_utc) bits.push(`issued ${fmtT(a.t_issued_utc)}`);
  if (a.revision !== undefined && a.revision !== null) bits.push(`revision ${a.revision}`);
  return h("p", { class: "as-of" }, bits.join(" · "));
}

function activity(s) {
  const recent = `${s.events_24h} event${s.events_24h === 1 ? "" : "s"} in the last 24 h`;
  if (s.events_24h || !s.t_last_event) return recent + ".";
  return `${recent}; ${s.events_last_day} in the day up to its latest event (${fmtT(s.t_last_event)}).`;
}

async function pageSites() {
  const last = localStorage.getItem("sw_last_visit");
  const sites = await api("/api/sites" + (last ? `?since=${encodeURIComponent(last)}` : ""));
  localStorage.setItem("sw_last_visit", new Date().toISOString());
  setBanner(sites.some(s => s.simulated)
    ? "SIMULATED — the evidence and judgements on this page come from simulated data, not real observations."
    : workspaceBanner());
  const cards = h("div", { class: "cards" });
  if (!sites.length) cards.append(h("p", { class: "muted" }, "No sites yet: sitewatch site add NAME --airport ICAO"));
  sites.forEach(s => {
    const a = (s.assessment || [])[0];
    cards.append(h("div", { class: "card site-card", "data-site": s.name },
      h("h2", {}, h("a", { href: `#/site/${s.name}` }, s.name), " ", simBadge(s.simulated)),
      h("div", { class: "muted" }, `${s.kind} · ${s.label || ""}`),
      a ? h("div", { class: "headline" },
            h("p", {}, h("strong", {}, `${a.hypothesis}: ${a.likelihood}`), ` (${a.confidence} confidence, ${pct(a.probability)})`),
            asOfLine(a),
            a.judgement ? h("p", { class: "judgement" }, a.judgement) : null)
        : h("p", { class: "muted" }, "no assessment yet (sitewatch assess)"),
      h("p", {}, activity(s), " ",
        s.new_since ? h("span", { class: "badge new" }, `${s.new_since} new since last visit`) : null),
      (s.indicators || []).length ? table(s.indicators, ["indicator", "value", "score", "status"]) : null));
  });
  const sources = h("section", { class: "panel", id: "sources-panel", style: "margin-top: 1rem" }, h("h2", {}, "Sources"),
    h("div", { id: "sources" }, h("p", { class: "muted" }, "Loading…")));
  view().replaceChildren(h("h1", {}, "Sites"), cards, sources);
  api("/api/watch/sources").then(renderSources).catch(err => $("#sources").replaceChildren(errorBox(err)));
}

function renderSources(w) {  // watch run: each source's last fetch, errors, coverage; fetched licences
  const rows = (w.sources || []).map(s => ({
    source: `${s.entry} (${s.source})`, sites: (s.sites || []).join(", "),
    status: s.down_since_utc ? `down since ${fmtT(s.down_since_utc)}${s.last_error && s.last_error.unreachable
      ? " (host unreachable)" : ""}` : (s.last_success_utc ? "ok" : "not fetched yet"),
    last_fetch: s.last_success_utc || "never",
    coverage: s.coverage ? `${fmtT(s.coverage.from)} → ${fmtT(s.coverage.to)}` : "none",
    new: `${s.new_last ?? 0} (total ${s.new_total ?? 0})${s.pending ? `, ${s.pending} pending` : ""}`,
    errors: s.errors_total ? `${s.errors_total}: ${s.last_error ? `${fmtT(s.last_error.t_utc)} ${s.last_error.message}` : ""}` : "0"}));
  const lic = (w.fetched || []).map(f => ({ source: f.title || f.source, licence: f.licence, attribution: f.attribution, inputs: f.inputs }));
  $("#sources").replaceChildren(
    w.config_error ? errorBox(new Error(w.config_error)) : h("span"),
    rows.length ? table(rows, ["source", "sites", "status", "last_fetch", "coverage", "new", "errors"])
      : h("p", { class: "muted" }, "No watched sources: sitewatch watch source add NAME SOURCE --site SITE"),
    lic.length ? table(lic, ["source", "licence", "attribution", "inputs"]) : h("span"));
}

// ---------------------------------------------------------------------------- site page
async function pageSite(name) {
  const enc = encodeURIComponent(name);
  const [site, tracks, events, timeline, indicators] = await Promise.all([
    api(`/api/sites/${enc}`), api(`/api/sites/${enc}/tracks`), api(`/api/events?site=${enc}&limit=5000`),
    api(`/api/sites/${enc}/timeline`), api(`/api/sites/${enc}/indicators`)]);
  state.site = site; state.tracks = tracks.features; state.events = events; state.timeline = timeline.rows;
  state.indicators = indicators;
  setBanner(site.site.simulated
    ? `SIMULATED — the evidence and judgements of ${name} come from simulated data, not real observations.`
    : workspaceBanner());
  const times = [];
  state.tracks.forEach(f => f.properties.times.forEach(t => times.push(ms(t))));
  events.forEach(e => { times.push(ms(e.t_start)); if (e.t_end) times.push(ms(e.t_end)); });
  state.timeline.forEach(r => times.push(ms(r.t_start)));
  let tMin = Date.now() - DAY, tMax = Date.now();
  if (times.length) { tMin = times.reduce((a, b) => Math.min(a, b)); tMax = times.reduce((a, b) => Math.max(a, b)); }
  tMin = Math.floor(tMin / 60e3) * 60e3; tMax = Math.ceil(tMax / 60e3) * 60e3 + 60e3;
  view().replaceChildren(
    h("h1", {}, `${name} `, h("span", { class: "muted" }, site.site.label || "")),
    h("section", { class: "panel", id: "judgement-panel" }, h("h2", {}, "Judgement"), h("div", { id: "assessment" }, h("p", { class: "muted" }, "Loading…"))),
    windowControl(tMin, tMax),
    h("div", { class: "site-grid" },
      h("div", { class: "panel map-panel" }, h("h2", {}, "Map"), h("div", { id: "map" }),
        h("p", { class: "legend muted" }, h("span", { class: "sw adsb" }), "ADS-B track ", h("span", { class: "sw ais" }), "AIS track ",
          h("span", { class: "sw ev" }), "event ", h("span", { class: "sw dark" }), "dark gap / inferred visit (dashed)")),
      h("div", { class: "panel" }, h("h2", {}, "Timeline"), timelineFilter(), h("p", { class: "muted", id: "timeline-count" }), h("div", { id: "timeline" }))),
    h("section", { class: "panel" }, h("h2", {}, "Indicators"), h("p", { class: "muted" },
      "What the judgement rests on first. Each chart is the daily series against the site's own baseline (dashed); days no sensor observed are gaps, never zero."),
      h("div", { id: "charts" })),
    h("section", { class: "panel" }, h("h2", {}, "Imagery"), h("div", { id: "chips" }, h("p", { class: "muted" }, "Loading…"))),
    h("section", { class: "panel" }, h("h2", {}, "Events"), h("p", { class: "muted", id: "events-count" }), h("div", { id: "evidence" })));
  drawMap(site);
  state.win = null;
  setWindow(Math.max(tMin, tMax - 14 * DAY), tMax);
  renderCharts(indicators);
  api(`/api/sites/${enc}/assessment`).then(renderAssessment).catch(err => $("#assessment").replaceChildren(errorBox(err)));
  api(`/api/scenes?site=${enc}`).then(renderChips).catch(err => $("#chips").replaceChildren(errorBox(err)));
}

// ---- the time window (from – to)
function windowControl(tMin, tMax) {
  const mk = (id, v) => h("input", { type: "range", id, min: String(tMin), max: String(tMax), value: String(v), step: "60000",
                                     "aria-label": id === "time-from" ? "window start" : "window end" });
  const from = mk("time-from", tMin), to = mk("time-to", tMax);
  const onInput = which => () => {
    let a = +from.value, b = +to.value;
    if (a >= b) { if (which === "from") b = Math.min(tMax, a + 60e3); else a = Math.max(tMin, b - 60e3); }
    setWindow(a, b);
  };
  from.addEventListener("input", onInput("from"));
  to.addEventListener("input", onInput("to"));
  const preset = (label, days) => h("button", { type: "button", onclick: () => setWindow(days ? Math.max(tMin, +to.max - days * DAY) : tMin, +to.max) }, label);
  return h("section", { class: "panel window", id: "window" },
    h("div", { class: "window-head" }, h("h2", {}, "Time window"), h("span", { id: "window-label" }),
      h("span", { class: "presets" }, preset("last day", 1), preset("7 days", 7), preset("14 days", 14), preset("all", 0))),
    h("label", { class: "slider" }, h("span", {}, "from"), from, h("output", { id: "from-label" })),
    h("label", { class: "slider" }, h("span", {}, "to"), to, h("output", { id: "to-label" })));
}

function setWindow(a, b) {
  const from = $("#time-from"), to = $("#time-to");
  if (!from || !to) return;
  from.value = String(a); to.value = String(b);
  a = +from.value; b = +to.value;  // as the inputs clamp them
  state.win = [a, b];
  $("#from-label").textContent = fmtT(a);
  $("#to-label").textContent = fmtT(b);
  $("#window-label").textContent = `${fmtT(a)} – ${fmtT(b)} (${((b - a) / DAY).toFixed(1)} days)`;
  filterTime();
}

function inWindow(t0, t1) {
  if (!state.win) return true;
  const a = ms(t0), b = t1 ? ms(t1) : a;
  return a < state.win[1] && b >= state.win[0];
}

// ---- the judgement
function renderAssessment(rows) {
  const el = $("#assessment");
  if (!rows.length) { el.replaceChildren(h("p", { class: "muted" }, "No assessment issued yet (sitewatch assess).")); return; }
  const body = a => { try { return typeof a.body === "string" ? JSON.parse(a.body) : (a.body || {}); } catch (_) { return {}; } };
  const lead = body(rows[0]);
  const a0 = { ...rows[0], evidence_through: lead.evidence_through };
  const parts = [
    h("p", { class: "headline-judgement" }, h("strong", {}, (lead.judgement || {}).text || `${rows[0].hypothesis}: ${rows[0].likelihood}`)),
    asOfLine(a0),
    h("p", {}, (lead.confidence_sentence || {}).text || ""),
    table(rows.map(a => ({ hypothesis: a.hypothesis, probability: pct(a.probability), likelihood: a.likelihood })),
          ["hypothesis", "probability", "likelihood"])];
  const ach = lead.ach || {};
  if ((ach.rows || []).length) {
    const order = ach.order || [];
    const achRows = ach.rows.map(r => {
      const o = { evidence: `${r.label} (${r.state})`, diagnosticity: r.diagnostic ? r.diagnosticity.toFixed(1) : "non-diagnostic" };
      order.forEach(hh => { o[hh] = (r.cells[hh] || {}).consistency; });
      return o;
    });
    const det = h("details", { class: "ach" }, h("summary", {}, "ACH matrix: each item of evidence against each hypothesis"),
      h("p", { class: "muted" }, "CC/C consistent, N neutral, I/II inconsistent; diagnosticity = how differently the hypotheses predict it."),
      table(achRows, ["evidence", ...order, "diagnosticity"]));
    parts.push(det);
    (ach.linchpins || []).forEach(l => parts.push(h("p", {}, `Linchpin: without “${l.label}” the leader would be ${l.leader_without}.`)));
    if ((ach.separator || {}).text) parts.push(h("p", { class: "muted" }, ach.separator.text));
  }
  el.replaceChildren(...parts);
}

// ---- timeline and events, filtered by the window
function timelineFilter() {
  const kinds = [...new Set(state.timeline.map(kindOf))].sort();
  const sel = h("select", { id: "timeline-kind", "aria-label": "kind" }, h("option", { value: "" }, "all kinds"),
    kinds.map(k => h("option", { value: k }, k)));
  const zero = h("input", { type: "checkbox", id: "timeline-zero", checked: true });
  sel.addEventListener("change", renderTimeline);
  zero.addEventListener("change", renderTimeline);
  return h("div", { class: "filters" }, sel, h("label", {}, zero, " hide zero imagery counts"));
}

function timelineRow(r) {
  const kind = ($("#timeline-kind") || {}).value;
  const hideZero = ($("#timeline-zero") || { checked: false }).checked;
  if (kind && kindOf(r) !== kind) return false;
  if (hideZero && kindOf(r) === "imagery.count" && r.value === 0) return false;
  return inWindow(r.t_start, r.t_end);
}

function renderTimeline() {
  const rows = state.timeline.filter(timelineRow);
  const isEvidence = rows.length ? "evidence_id" in rows[0] : state.timeline.length && "evidence_id" in state.timeline[0];
  const cols = isEvidence ? ["t_start", "kind", "text"] : ["t_start", "kind", "summary"];
  const shown = rows.map(r => ({ ...r, kind: kindOf(r) }));
  $("#timeline-count").textContent = `${rows.length} of ${state.timeline.length} rows shown (window and filters)`;
  $("#timeline").replaceChildren(rows.length
    ? table(shown, cols, r => r.event_id ? openEvent(r) : openEvidence(r), { labels: { t_start: "time (UTC)" }, simCol: "text", stack: true })
    : h("p", { class: "muted" }, "Nothing in this window."));
}

function renderEvents() {
  const rows = state.events.filter(e => inWindow(e.t_start, e.t_end)).map(e => ({ ...e, kind: kindOf(e) }));
  $("#events-count").textContent = `${rows.length} of ${state.events.length} events in the window; click one for the positions it rests on`;
  $("#evidence").replaceChildren(rows.length
    ? table(rows, ["t_start", "kind", "subject", "confidence", "summary"], openEvent, { labels: { t_start: "time (UTC)" }, stack: true })
    : h("p", { class: "muted" }, "No events in this window."));
}

// ---- indicator charts
function yRange(_u, mn, mx) {
  const hi = Math.max(1, mx === null ? 1 : mx);
  const lo = Math.min(0, mn === null ? 0 : mn);
  return [lo, hi + (hi - lo) * 0.12];
}

function renderCharts(ind) {
  const el = $("#charts");
  if (!el) return;
  if (!ind.available || !ind.series.length) { el.replaceChildren(h("p", { class: "muted" }, "No indicators yet (sitewatch assess computes them).")); return; }
  el.replaceChildren();
  const drawn = ind.series.filter(s => s.chart);
  const groups = [["cited", "Cited by the judgement"], ["matrix", "Other evidence in the matrix"], ["other", "Other indicators"]];
  groups.forEach(([g, title]) => {
    const mine = drawn.filter(s => s.group === g);
    if (!mine.length) return;
    el.append(h("h3", {}, title));
    const grid = h("div", { class: "chart-grid" });
    el.append(grid);
    mine.forEach(s => grid.append(chartBox(s)));
  });
  const quiet = ind.series.filter(s => !s.chart);
  if (quiet.length) {
    el.append(h("p", { class: "muted quiet" }, "Not drawn (zero or not observed on every day): ",
      quiet.map(s => `${s.label || s.name}${s.observed_days ? "" : " (never observed)"}`).join(", "), "."));
  }
}

function chartBox(s) {
  const box = h("figure", { class: "chart", "data-series": s.name },
    h("figcaption", {}, h("strong", { class: "chart-title" }, s.label || s.name),
      s.why ? h("span", { class: "why" }, ` — ${s.why}`) : null));
  const plot = h("div", { class: "plot" });
  box.append(plot);
  if (s.sentence) box.append(h("p", { class: "muted sentence" }, s.sentence));
  requestAnimationFrame(() => drawChart(s, plot));
  return box;
}

function drawChart(s, plot) {
  const pts = s.points || [];
  const xs = pts.map(p => ms(p.day) / 1000);
  const vals = pts.map(p => (p.value === null || p.value === undefined ? null : p.value));
  const base = pts.map(p => (p.baseline === null || p.baseline === undefined ? null : p.baseline));
  const sparse = (s.observed_days || 0) < pts.length / 2;
  const width = Math.max(240, Math.floor(plot.getBoundingClientRect().width) || 300);
  plot.replaceChildren();
  new uPlot({
    width, height: 150, legend: { show: false }, cursor: { y: false },
    scales: { x: { time: true }, y: { range: yRange } },
    axes: [{ size: 30, space: 60 }, { size: 40, space: 30 }],
    series: [{}, { label: "value", stroke: "#1d4ed8", width: 2, spanGaps: sparse, points: { show: sparse, size: 6 } },
             { label: "baseline", stroke: "#6b7280", dash: [4, 4], width: 1, spanGaps: true, points: { show: false } }],
  }, [xs, vals, base], plot);
}

let resizeTimer = null;
window.addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => { if (state.indicators && $("#charts")) renderCharts(state.indicators); }, 250);
});

// ---- image chips
function renderChips(scenes) {
  const el = $("#chips");
  if (!scenes.length) { el.replaceChildren(h("p", { class: "muted" }, "No imagery of this site (sitewatch ingest imagery).")); return; }
  const grid = h("div", { class: "chip-grid" });
  scenes.forEach(sc => {
    const counts = {};
    (sc.counts || []).forEach(c => { counts[c.class] = (counts[c.class] || 0) + c.n; });
    const countText = Object.keys(counts).length ? Object.entries(counts).map(([k, n]) => `${k} ${n}`).join(" · ") : "no detections";
    const cap = h("figcaption", {}, h("strong", {}, fmtT(sc.t_utc)), " ", simBadge(sc.simulated),
      h("br"), `${sc.provider || "unknown provider"} · ${fmtNum(sc.gsd_m)} m/px`, h("br"), countText);
    const img = sc.has_chip
      ? h("img", { src: `/api/scenes/${encodeURIComponent(sc.scene_id)}/chip`, alt: `scene ${sc.scene_id} of ${fmtT(sc.t_utc)} with its detections`, loading: "lazy" })
      : h("div", { class: "no-chip muted" }, "image file not readable here");
    const fig = h("figure", { class: "chip", "data-scene": sc.scene_id, tabindex: "0" }, img, cap);
    fig.addEventListener("click", () => openScene(sc, countText));
    grid.append(fig);
  });
  el.replaceChildren(grid);
}

function openScene(sc, countText) {
  openAside(`scene ${sc.scene_id}`,
    sc.has_chip ? h("img", { class: "chip-large", src: `/api/scenes/${encodeURIComponent(sc.scene_id)}/chip`, alt: `scene ${sc.scene_id}` }) : null,
    dl([["acquired", fmtT(sc.t_utc)], ["provider", sc.provider], ["resolution", `${fmtNum(sc.gsd_m)} m per pixel`],
        ["size", `${sc.width_px} × ${sc.height_px} px`], ["detections", countText],
        ["simulated", sc.simulated ? "yes — rendered by the simulator" : "no"]]),
    (sc.counts || []).length ? table(sc.counts, ["class", "zone", "n"], null, { labels: { n: "count" } }) : null);
}

// ---- the map
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

function filterTime() {
  drawLayers();
  if ($("#timeline")) renderTimeline();
  if ($("#evidence")) renderEvents();
}

function drawLayers() {
  const layers = state.layers; if (!layers) return;
  const [a, b] = state.win || [-Infinity, Infinity];
  layers.clearLayers();
  state.tracks.forEach(f => {
    const coords = [];
    f.properties.times.forEach((t, i) => { const x = ms(t); if (x >= a && x <= b) coords.push([f.geometry.coordinates[i][1], f.geometry.coordinates[i][0]]); });
    if (coords.length < 2) return;
    L.polyline(coords, { color: COLORS[f.properties.source] || "#444", weight: 2, opacity: 0.8, className: "track" })
      .bindTooltip(`${f.properties.source} ${f.properties.id}`)
      .on("click", () => openAside(`track ${f.properties.id}`, dl([["source", f.properties.source], ["id", h("a", { href: `#/subject/${encodeURIComponent(f.properties.id)}` }, f.properties.id)],
        ["points in the window", coords.length], ["first", f.properties.times[0]], ["last", f.properties.times[f.properties.times.length - 1]],
        ["ingested from file ids", f.properties.file_ids]])))
      .addTo(layers);
  });
  state.events.forEach(e => {
    if (!inWindow(e.t_start, e.t_end) || e.lat === null || e.lon === null || e.lat === undefined) return;
    const k = kindOf(e);
    const dark = e.layer ? e.layer !== "point" : /dark-gap|dark-visit/.test(k);  // the layer its analysis declares
    L.circleMarker([e.lat, e.lon], { radius: 6, color: dark ? "#b91c1c" : "#7c3aed", weight: 2, className: "event-marker" })
      .bindTooltip(`${k} ${e.subject || ""}`).on("click", () => openEvent(e)).addTo(layers);
    if (dark) darkLink(e, k, layers);
  });
}

// a dark gap as a dashed line from where the track was lost to where it came back; a dark
// visit through the site (its positions are those of the gap it was inferred from)
const gapCache = new Map();

function darkLink(e, k, layers) {
  const d = e.details || {};
  const draw = g => {
    const last = g.last || g.lost || g.before; const first = g.first || g.reacquired || g.after;
    if (!last || !first || last.lat === undefined || first.lat === undefined || state.layers !== layers) return;
    const s = state.site.site;
    const link = e.layer ? e.layer === "link" : /dark-visit/.test(k);
    const path = link ? [[last.lat, last.lon], [s.lat, s.lon], [first.lat, first.lon]] : [[last.lat, last.lon], [first.lat, first.lon]];
    L.polyline(path, { color: "#b91c1c", dashArray: "6 6", weight: 2, className: "dark-link" })
      .bindTooltip(`${k} ${e.subject || ""}`).on("click", () => openEvent(e)).addTo(layers);
  };
  if (d.lost || d.last || d.before) { draw(d); return; }
  if (!d.gap_event_id) return;
  if (!gapCache.has(d.gap_event_id)) {
    gapCache.set(d.gap_event_id, api(`/api/events/${encodeURIComponent(d.gap_event_id)}`).then(g => g.details || {}).catch(() => ({})));
  }
  gapCache.get(d.gap_event_id).then(g => { if (inWindow(e.t_start, e.t_end)) draw(g); });
}

// ---------------------------------------------------------------------------- other pages
async function pageSubject(id) {
  const s = await api(`/api/subjects/${encodeURIComponent(id)}`);
  setBanner(workspaceBanner());
  const who = s.aircraft || s.vessel;
  view().replaceChildren(h("h1", {}, id),
    h("section", { class: "panel" }, h("h2", {}, s.aircraft ? "Aircraft" : s.vessel ? "Vessel" : "Identity"),
      who ? dl(Object.entries(who).map(([k, v]) => [k.replace(/_/g, " "), v])) : h("p", { class: "muted" }, "Not in the aircraft or vessel tables.")),
    h("section", { class: "panel" }, h("h2", {}, "Positions"), (s.positions || []).length
      ? table(s.positions, ["source", "positions", "t_first", "t_last", "lat_min", "lat_max", "lon_min", "lon_max"])
      : h("p", { class: "muted" }, "No positions.")),
    h("section", { class: "panel" }, h("h2", {}, "Events"),
      table(s.events.map(e => ({ ...e, kind: kindOf(e) })), ["t_start", "kind", "site", "confidence", "summary"], openEvent)));
}

function pageQuery() {
  setBanner(workspaceBanner());
  const out = h("div", { id: "query-out" });
  const form = h("form", { class: "query", id: "two-box-form" },
    h("label", {}, "A (site or box)", h("input", { name: "a", placeholder: "hmeimim", required: "" })),
    h("label", {}, "B (site or box)", h("input", { name: "b", placeholder: "44.0,42.0,46.0,45.0", required: "" })),
    h("label", {}, "min gap (h)", h("input", { name: "min", type: "number", value: "1", step: "0.5" })),
    h("label", {}, "max gap (h)", h("input", { name: "max", type: "number", value: "8", step: "0.5" })),
    h("button", { type: "submit" }, "Run two-box query"));
  form.addEventListener("submit", async ev => {
    ev.preventDefault();
    const f = new FormData(form);
    const q = new URLSearchParams({ a: f.get("a"), b: f.get("b"), min_gap_s: String(f.get("min") * 3600), max_gap_s: String(f.get("max") * 3600) });
    out.replaceChildren(h("p", { class: "muted" }, "Running…"));
    try {
      const rows = await api(`/api/query/two-box?${q}`);
      out.replaceChildren(rows.length ? table(rows, Object.keys(rows[0])) : h("p", { class: "muted" }, "No aircraft matched: widen the boxes or the gap."));
    } catch (err) { out.replaceChildren(errorBox(err)); }
  });
  view().replaceChildren(h("h1", {}, "Queries"), h("section", { class: "panel" }, h("h2", {}, "Seen in A, then in B"),
    h("p", { class: "muted" }, "A box is MIN_LON,MIN_LAT,MAX_LON,MAX_LAT in degrees."), form, out));
}

async function pageAlerts() {
  const rows = await api("/api/alerts");
  setBanner(workspaceBanner());
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
    if (!state.site) return;
    const mine = evs.filter(e => e.site === state.site.site.name);
    mine.forEach(e => {
      e.details = e.details || {};
      state.events.push(e);
      state.timeline.push({ ...e, text: e.summary || "", live: true });
    });
    if (!mine.length) return;
    drawLayers();
    if ($("#evidence")) renderEvents();
    const tl = $("#timeline tbody") || (() => { renderTimelineShell(); return $("#timeline tbody"); })();
    mine.forEach(e => {
      const tr = h("tr", { class: "clickable live-row", tabindex: "0" }, h("td", {}, fmtT(e.t_start)), h("td", {}, kindOf(e)),
        h("td", {}, e.summary || `${kindOf(e)} ${e.subject || ""}`));
      tr.addEventListener("click", () => openEvent(e));
      if (tl) tl.prepend(tr);
    });
  });
  es.addEventListener("positions", m => {
    const pts = JSON.parse(m.data);
    if (!state.site) return;
    pts.forEach(p => {
      let f = state.tracks.find(t => t.properties.id === p.id && t.properties.source === p.source);
      if (!f) { f = { type: "Feature", properties: { id: p.id, source: p.source, times: [], alt_ft: [], file_ids: [] }, geometry: { type: "LineString", coordinates: [] } }; state.tracks.push(f); }
      f.properties.times.push(p.t_utc); f.geometry.coordinates.push([p.lon, p.lat]);
    });
    const to = $("#time-to"), from = $("#time-from");
    if (to && from) {
      const atEnd = +to.value >= +to.max;
      const tMax = Math.max(+to.max, ...pts.map(p => ms(p.t_utc)));
      to.max = String(tMax); from.max = String(tMax);
      if (atEnd) setWindow(+from.value, tMax); else drawLayers();
    }
  });
}

function renderTimelineShell() {
  $("#timeline").replaceChildren(table([], ["t_start", "kind", "text"], null, { labels: { t_start: "time (UTC)" }, stack: true }));
}

// ---------------------------------------------------------------------------- router
async function route() {
  const hash = location.hash || "#/";
  $("#provenance").hidden = true;
  state.site = null;
  try {
    if (!state.health) state.health = await api("/api/health").catch(() => ({}));
    if (hash.startsWith("#/site/")) await pageSite(decodeURIComponent(hash.slice(7)));
    else if (hash.startsWith("#/subject/")) await pageSubject(decodeURIComponent(hash.slice(10)));
    else if (hash === "#/query") pageQuery();
    else if (hash === "#/alerts") await pageAlerts();
    else await pageSites();
  } catch (err) {
    view().replaceChildren(h("h1", {}, "Could not load this page"), errorBox(err));
  }
}

$("#prov-close").addEventListener("click", () => { $("#provenance").hidden = true; });
document.addEventListener("keydown", e => { if (e.key === "Escape") $("#provenance").hidden = true; });
window.addEventListener("hashchange", route);
route();
startLive();
