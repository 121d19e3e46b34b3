// pttsim console: one EventSource (/console/events) brings the bench's
// state each time it changes; tracks are fetched per device when its
// point count moves. Every list is updated in place, keyed, so an audio
// element that plays is never replaced under the listener.
"use strict";

const $ = (sel, el = document) => el.querySelector(sel);
const SVG = "http://www.w3.org/2000/svg";
const PALETTE = ["#1d4ed8", "#c2410c", "#15803d", "#7e22ce", "#0e7490", "#be123c", "#4d7c0f", "#a16207"];
const BURST = ["queue", "grab the mic", "pre-empt"];

const view = {
  state: null,
  tracks: new Map(),     // account → [{t, lat, lon, speed}]
  fetched: new Map(),    // account → point count fetched
  fetching: new Set(),
  colors: new Map(),     // account → colour
  since: new Map(),      // group id → {holder, at}: when the page saw the floor taken
  selected: null,
};

function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v; else if (k === "text") e.textContent = v; else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k);
  return e;
}

function svg(tag, attrs = {}) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

// keyed puts one child per item into parent, in order: existing children
// (by data-key) are updated, missing ones created, stale ones removed.
function keyed(parent, items, key, create, update) {
  const old = new Map();
  for (const c of Array.from(parent.children)) old.set(c.dataset.key, c);
  let prev = null;
  for (const it of items) {
    const k = String(key(it));
    let c = old.get(k);
    if (c) old.delete(k); else { c = create(it); c.dataset.key = k; }
    update(c, it);
    const want = prev ? prev.nextSibling : parent.firstChild;
    if (want !== c) parent.insertBefore(c, want);
    prev = c;
  }
  for (const c of old.values()) c.remove();
}

function colorOf(account) {
  if (!view.colors.has(account)) view.colors.set(account, PALETTE[view.colors.size % PALETTE.length]);
  return view.colors.get(account);
}

const clock = (ms) => new Date(ms).toLocaleTimeString([], { hour12: false });
// A time of today without its date.
const stamp = (ms) => new Date(ms).toDateString() === new Date().toDateString() ? clock(ms) : new Date(ms).toLocaleString([], { hour12: false });
function ago(ms) {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 90) return s + " s ago";
  if (s < 5400) return Math.round(s / 60) + " min ago";
  return Math.round(s / 3600) + " h ago";
}
function groupName(id) {
  const g = view.state && view.state.groups.find((g) => g.id === id);
  return g ? g.name : id ? String(id) : "—";
}
function deviceName(account) {
  const d = view.state && view.state.devices.find((d) => d.account === account);
  return d ? d.name : account;
}

// ---- devices ----

function renderDevices(st) {
  $("#no-devices").hidden = st.devices.length > 0;
  keyed($("#devices tbody"), st.devices, (d) => d.account, (d) => {
    const tr = el("tr", { "data-account": d.account },
      el("td", {}, el("span", { class: "swatch" })),
      el("td", {}, el("span", { class: "name" }), el("div", { class: "sub account" })),
      el("td", {}, el("span", { class: "presence" }), el("div", { class: "sub state" })),
      el("td", { class: "active-group" }),
      el("td", {}, el("span", { class: "badge floor" })),
      el("td", { class: "fix" }),
      el("td", { class: "points" }));
    tr.addEventListener("click", () => { view.selected = view.selected === d.account ? null : d.account; draw(); });
    return tr;
  }, (tr, d) => {
    $(".swatch", tr).style.background = colorOf(d.account);
    $(".name", tr).textContent = d.name;
    $(".account", tr).textContent = d.account + (d.version ? " · " + d.version : "");
    const p = $(".presence", tr);
    p.className = "presence " + d.presence;
    p.textContent = d.presence;
    p.title = d.presence_since ? "since " + stamp(d.presence_since) : "no presence seen";
    $(".state", tr).textContent = d.state + (d.loc_share ? "" : " · location off");
    $(".active-group", tr).textContent = groupName(d.active_group);
    const f = $(".floor", tr);
    f.className = "badge floor " + d.floor;
    f.textContent = d.floor;
    $(".fix", tr).textContent = d.last ? ago(d.last.t * 1000) : "—";
    $(".fix", tr).title = d.last ? `${d.last.lat.toFixed(6)}, ${d.last.lon.toFixed(6)}` + (d.last.speed != null ? `, ${d.last.speed} km/h` : "") : "";
    $(".points", tr).textContent = d.points;
    tr.classList.toggle("selected", view.selected === d.account);
  });
}

// ---- groups and their floor ----

function renderGroups(st) {
  const now = Date.now();
  for (const g of st.groups) {
    const s = view.since.get(g.id);
    if (!g.holder) view.since.delete(g.id);
    else if (!s || s.holder !== g.holder) view.since.set(g.id, { holder: g.holder, at: now });
  }
  keyed($("#groups"), st.groups, (g) => g.id, (g) => el("div", { class: "group", "data-group": g.id },
    el("div", { class: "title" }), el("div", { class: "sub rules" }), el("div", { class: "sub members" }),
    el("div", { class: "floor" })), (div, g) => {
    div.classList.toggle("busy", !!g.holder);
    $(".title", div).textContent = g.name;
    $(".rules", div).textContent = `#${g.id} · ${BURST[g.burst_mode] || "burst mode " + g.burst_mode} · talk ${g.talk_time} s` + (g.shutup ? " · muted (admins only)" : "");
    $(".members", div).textContent = g.members.join(", ");
    const f = $(".floor", div);
    f.dataset.holder = g.holder;
    f.replaceChildren();
    if (g.holder) {
      const s = view.since.get(g.id);
      f.append("🎙 ", el("span", { class: "holder", text: deviceName(g.holder) }),
        ` talking ${Math.round((now - s.at) / 1000)} s`);
    } else {
      f.append("floor idle");
    }
    if (g.queue.length) f.append(el("span", { class: "sub", text: " · waiting: " + g.queue.join(", ") }));
  });
}

// ---- recordings ----

function renderRecordings(st) {
  $("#no-recordings").hidden = st.recordings.length > 0;
  keyed($("#recordings tbody"), st.recordings, (r) => r.url, (r) => el("tr", {},
    el("td", { text: stamp(r.begin) }), el("td", { text: r.account }), el("td", { text: r.group }),
    el("td", { text: (r.duration_ms / 1000).toFixed(1) + " s" }),
    el("td", {}, el("audio", { controls: "", preload: "metadata", src: r.url }))), () => {});
}

// ---- feeds: notices, emergency alerts, … ----

function renderFeeds(st) {
  keyed($("#feeds"), st.feeds, (f) => f.name, (f) => el("section", { class: "panel feed", "data-feed": f.name },
    el("h2"), el("ul"), el("p", { class: "empty", text: "Nothing yet." })), (sec, f) => {
    $("h2", sec).textContent = f.title;
    $(".empty", sec).hidden = f.items.length > 0;
    // Newest first, whatever order the feature keeps them in.
    const items = f.items.map((it, i) => Object.assign({ key: `${it.time}/${it.account || ""}/${i}` }, it))
      .sort((a, b) => b.time - a.time);
    keyed($("ul", sec), items, (it) => it.key, () => el("li", {}, el("span", { class: "when" }), el("b"), el("span", { class: "text" }),
      el("a", { class: "link", target: "_blank", text: " (attachment)" })), (li, it) => {
      li.classList.toggle("alert", !!it.alert);
      $(".when", li).textContent = stamp(it.time);
      $("b", li).textContent = it.title;
      $(".text", li).textContent = [it.from && " from " + it.from, it.account && " (" + it.account + ")", it.text && ": " + it.text].filter(Boolean).join("");
      // Only web links: an item's URL comes from whoever sent it.
      const a = $("a.link", li);
      const safe = /^(https?:\/\/|\/)/i.test(it.url || "");
      a.hidden = !safe;
      if (safe) a.href = it.url;
    });
  });
  const active = [];
  for (const f of st.feeds) for (const it of f.items) if (it.alert && it.active) active.push(it);
  const box = $("#alerts");
  box.hidden = active.length === 0;
  box.replaceChildren(...active.map((it) => el("div", { text: `⚠ ${it.title}${it.account ? " — " + deviceName(it.account) : ""}${it.text ? ": " + it.text : ""} (${clock(it.time)})` })));
}

// ---- the map: tracks on a plain latitude/longitude grid ----

const MAP_W = 1000, MAP_H = 640, PAD = 40;
const STEPS = [0.00001, 0.00002, 0.00005, 0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 45];

function alertPositions(st) {
  const out = [];
  for (const f of st.feeds) for (const it of f.items) {
    if (!it.alert || !it.active) continue;
    if (it.lat != null && it.lon != null) out.push({ lat: it.lat, lon: it.lon, it });
    else if (it.account) {
      const d = st.devices.find((d) => d.account === it.account);
      if (d && d.last) out.push({ lat: d.last.lat, lon: d.last.lon, it });
    }
  }
  return out;
}

function drawMap(st) {
  const all = [];
  for (const pts of view.tracks.values()) for (const p of pts) all.push(p);
  for (const d of st.devices) if (d.last) all.push(d.last);
  const alerts = alertPositions(st);
  for (const a of alerts) all.push(a);
  const grid = $("#grid"), tracks = $("#tracks"), marks = $("#marks"), scale = $("#scale");
  $("#map-empty").style.display = all.length ? "none" : "";
  if (!all.length) { grid.replaceChildren(); tracks.replaceChildren(); marks.replaceChildren(); scale.replaceChildren(); return; }

  let latMin = Infinity, latMax = -Infinity, lonMin = Infinity, lonMax = -Infinity;
  for (const p of all) {
    latMin = Math.min(latMin, p.lat); latMax = Math.max(latMax, p.lat);
    lonMin = Math.min(lonMin, p.lon); lonMax = Math.max(lonMax, p.lon);
  }
  // Equirectangular around the middle latitude: east-west degrees shrink
  // by cos(latitude), so a street keeps its shape. At least ~200 m across.
  const k = Math.max(Math.cos(((latMin + latMax) / 2) * Math.PI / 180), 0.01);
  const span = Math.max((lonMax - lonMin) * k, latMax - latMin, 0.002) * 1.1;
  const scalePx = Math.min((MAP_W - 2 * PAD) / span, (MAP_H - 2 * PAD) / span);
  const cx = (lonMin + lonMax) / 2, cy = (latMin + latMax) / 2;
  const X = (lon) => MAP_W / 2 + (lon - cx) * k * scalePx;
  const Y = (lat) => MAP_H / 2 - (lat - cy) * scalePx;
  const lonAt = (x) => cx + (x - MAP_W / 2) / (k * scalePx);
  const latAt = (y) => cy - (y - MAP_H / 2) / scalePx;

  // Grid lines every "nice" step, at least 70 px apart.
  const step = STEPS.find((s) => s * scalePx >= 70) || 45;
  const dec = Math.max(0, -Math.floor(Math.log10(step)));
  const lines = [];
  for (let lat = Math.ceil(latAt(MAP_H) / step) * step; lat <= latAt(0); lat += step) {
    const y = Y(lat);
    lines.push(svg("line", { x1: 0, x2: MAP_W, y1: y, y2: y }));
    const t = svg("text", { x: 4, y: y - 3 }); t.textContent = lat.toFixed(dec) + "°"; lines.push(t);
  }
  const stepLon = STEPS.find((s) => s * k * scalePx >= 70) || 45;
  const decLon = Math.max(0, -Math.floor(Math.log10(stepLon)));
  for (let lon = Math.ceil(lonAt(0) / stepLon) * stepLon; lon <= lonAt(MAP_W); lon += stepLon) {
    const x = X(lon);
    lines.push(svg("line", { x1: x, x2: x, y1: 0, y2: MAP_H }));
    const t = svg("text", { x: x + 3, y: MAP_H - 4 }); t.textContent = lon.toFixed(decLon) + "°"; lines.push(t);
  }
  grid.replaceChildren(...lines);

  // A scale bar of a round number of metres.
  const mPerPx = 111320 / scalePx;
  const target = 150 * mPerPx;
  const nice = [1, 2, 5].flatMap((m) => [1, 10, 100, 1000, 10000, 100000].map((e) => m * e)).sort((a, b) => a - b);
  const len = nice.filter((m) => m <= target).pop() || nice[0];
  const px = len / mPerPx;
  const lbl = svg("text", { x: MAP_W - 20 - px, y: MAP_H - 28 });
  lbl.textContent = len >= 1000 ? len / 1000 + " km" : len + " m";
  scale.replaceChildren(svg("line", { x1: MAP_W - 20 - px, x2: MAP_W - 20, y1: MAP_H - 20, y2: MAP_H - 20 }), lbl);

  const tr = [];
  for (const [acct, pts] of view.tracks) {
    if (pts.length < 2) continue;
    const pl = svg("polyline", { "data-account": acct, stroke: colorOf(acct),
      points: pts.map((p) => X(p.lon).toFixed(1) + "," + Y(p.lat).toFixed(1)).join(" ") });
    if (view.selected === acct) pl.classList.add("selected");
    const title = svg("title"); title.textContent = `${deviceName(acct)}: ${pts.length} points`; pl.append(title);
    tr.push(pl);
  }
  tracks.replaceChildren(...tr);

  const mk = [];
  for (const d of st.devices) {
    if (!d.last) continue;
    const x = X(d.last.lon), y = Y(d.last.lat);
    const c = svg("circle", { class: "pos" + (d.floor === "talking" ? " talking" : ""), cx: x, cy: y, r: 7,
      fill: colorOf(d.account), "data-account": d.account });
    const title = svg("title");
    title.textContent = `${d.name} · ${clock(d.last.t * 1000)}` + (d.last.speed != null ? ` · ${d.last.speed} km/h` : "");
    c.append(title);
    const t = svg("text", { x: x + 10, y: y + 4 });
    t.textContent = d.name + (d.floor === "talking" ? " 🎙" : "");
    mk.push(c, t);
  }
  for (const a of alerts) mk.push(svg("circle", { class: "alert", cx: X(a.lon), cy: Y(a.lat), r: 16 }));
  marks.replaceChildren(...mk);
}

// ---- state in, tracks fetched ----

function fetchTracks(st) {
  for (const d of st.devices) {
    if (d.points === (view.fetched.get(d.account) || 0) || view.fetching.has(d.account)) continue;
    view.fetching.add(d.account);
    fetch("api/track/" + encodeURIComponent(d.account) + "?n=2000")
      .then((r) => r.json())
      .then((pts) => { view.tracks.set(d.account, pts); view.fetched.set(d.account, d.points); draw(); })
      .catch(() => {})
      .finally(() => view.fetching.delete(d.account));
  }
}

function draw() {
  const st = view.state;
  if (!st) return;
  $("#org").textContent = st.org ? "· " + st.org : "";
  const s = st.stats;
  $("#stats").textContent = `${s.track_points} points stored` + (s.track_missing ? ` (${s.track_missing} lost on handsets)` : "") +
    ` · floor: ${s.grants} granted, ${s.denies} denied, ${s.revokes} revoked · ${s.voice_relayed} voice packets relayed · ${s.records} recordings`;
  renderDevices(st);
  renderGroups(st);
  renderRecordings(st);
  renderFeeds(st);
  drawMap(st);
}

function setLink(up) {
  const l = $("#link");
  l.className = "link " + (up ? "up" : "down");
  l.dataset.state = up ? "live" : "reconnecting";
  l.textContent = up ? "live" : "reconnecting…";
}

function connect() {
  const es = new EventSource("events");
  es.onopen = () => setLink(true);
  es.onerror = () => setLink(false); // EventSource reconnects by itself
  es.addEventListener("state", (ev) => {
    view.state = JSON.parse(ev.data);
    document.body.dataset.updated = String(Date.now());
    fetchTracks(view.state);
    draw();
  });
}

connect();
// Ages and talk timers move without news.
setInterval(draw, 1000);
