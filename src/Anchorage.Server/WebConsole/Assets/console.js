// Anchorage web console: read-only views over the server's /api/*, refreshed by polling.
// No framework, no inline code (the CSP forbids it), data written with textContent only.
"use strict";

(function () {
  const POLL_MS = 2000;
  const SVG = "http://www.w3.org/2000/svg";
  const STATES = [
    ["approved", "approved (or no approval required)"],
    ["pending", "pending approval"],
    ["review-due", "review due"],
    ["stale", "stale bundle"],
    ["slow-revocation", "slow revocation"],
    ["unused", "unused (no entry federates with it)"],
  ];
  const VIEWS = ["graph", "federation", "authorities", "entries", "agents"];

  let timer = null;
  let generation = 0;
  let selected = null;

  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  const num = (v) => (v === undefined || v === null || v === "" ? 0 : Number(v));

  function time(seconds) {
    const s = num(seconds);
    return s === 0 ? "none" : new Date(s * 1000).toISOString().replace(".000Z", "Z");
  }

  function age(seconds, now) {
    const s = num(seconds);
    if (s === 0) return "never";
    return duration(now - s) + " ago";
  }

  function duration(total) {
    let s = Math.max(0, Math.round(total));
    if (s < 120) return s + "s";
    if (s < 7200) return Math.round(s / 60) + "m";
    if (s < 172800) return Math.round(s / 3600) + "h";
    return Math.round(s / 86400) + "d";
  }

  async function getJson(path) {
    const response = await fetch(path, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } });
    if (response.status === 401) throw new Error("Your console session has ended: run `anchorage console login` on the server for a new one.");
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.error || ("request failed: HTTP " + response.status));
    return body;
  }

  function problem(text) {
    const p = $("problem");
    p.hidden = !text;
    p.textContent = text || "";
  }

  function live(ok) {
    $("live").textContent = ok ? "Live, updated " + new Date().toLocaleTimeString() : "Not updating";
  }

  // ---- routing ----

  function route() {
    const hash = location.hash || "#/graph";
    const parts = hash.replace(/^#\/?/, "").split("/");
    const view = VIEWS.includes(parts[0]) ? parts[0] : "graph";
    const arg = parts.length > 1 ? decodeURIComponent(parts.slice(1).join("/")) : "";
    for (const v of VIEWS) $("view-" + v).hidden = v !== view;
    for (const a of document.querySelectorAll("nav a")) {
      if (a.dataset.view === view || (view === "federation" && a.dataset.view === "graph")) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    start(view, arg);
  }

  function start(view, arg) {
    generation++;
    const mine = generation;
    if (timer) clearTimeout(timer);
    const load = {
      graph: loadGraph,
      federation: () => loadFederation(arg),
      authorities: loadAuthorities,
      entries: () => loadList("entries"),
      agents: () => loadList("agents"),
    }[view];
    const tick = async () => {
      try {
        await load();
        if (mine !== generation) return;
        problem(null);
        live(true);
      } catch (e) {
        if (mine !== generation) return;
        problem(e.message);
        live(false);
      }
      if (mine === generation) timer = setTimeout(tick, POLL_MS);
    };
    tick();
  }

  // ---- trust graph ----

  async function loadGraph() {
    const data = await getJson("/api/graph");
    $("trust-domain").textContent = data.trustDomain;
    drawGraph(data);
  }

  function drawGraph(data) {
    const g = $("graph");
    const focusedTd = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.td : null;
    clear(g);
    const w = 640, h = 480, cx = w / 2, cy = h / 2;
    const feds = data.federations;
    const r = feds.length <= 1 ? 170 : Math.min(200, 120 + feds.length * 8);
    g.appendChild(svg("title", {}, "Trust graph of " + data.trustDomain));
    const edges = svg("g", { "class": "edges" });
    const nodes = svg("g", { "class": "nodes" });
    g.appendChild(edges);
    g.appendChild(nodes);

    feds.forEach((f, i) => {
      const s = f.status;
      const angle = feds.length === 1 ? 0 : (2 * Math.PI * i) / feds.length - Math.PI / 2;
      const x = cx + r * Math.cos(angle), y = cy + r * Math.sin(angle);
      const edge = svg("g", { "class": "relationship", "data-td": s.trustDomain, "data-edge-state": f.edgeState });
      edge.appendChild(svg("line", { x1: cx, y1: cy, x2: x, y2: y, "class": "edge edge-" + f.edgeState }));
      const hit = svg("line", { x1: cx, y1: cy, x2: x, y2: y, "class": "edge-hit" });
      hit.addEventListener("click", () => select(f, data.now));
      edge.appendChild(hit);
      edge.appendChild(svg("text", { x: (cx + x) / 2, y: (cy + y) / 2 - 6, "class": "edge-label" }, f.edgeState));
      edges.appendChild(edge);

      const label = s.trustDomain + ": " + f.edgeState + ", owner " + (s.owner || "none");
      const node = svg("g", { "class": "node peer", tabindex: 0, role: "button", "aria-label": label, "data-td": s.trustDomain, "data-edge-state": f.edgeState });
      if (selected === s.trustDomain) node.classList.add("selected");
      node.appendChild(svg("title", {}, label));
      node.appendChild(svg("circle", { cx: x, cy: y, r: 26 }));
      node.appendChild(svg("text", { x: x, y: y + 44 }, s.trustDomain));
      node.addEventListener("click", () => select(f, data.now));
      node.addEventListener("focus", () => select(f, data.now));
      node.addEventListener("keydown", (e) => {
        if (e.key === "Enter") location.hash = "#/federation/" + encodeURIComponent(s.trustDomain);
      });
      nodes.appendChild(node);
      if (selected === s.trustDomain) details(f, data.now);
    });

    const local = svg("g", { "class": "node local", "data-td": data.trustDomain });
    local.appendChild(svg("title", {}, "Local trust domain " + data.trustDomain));
    local.appendChild(svg("circle", { cx: cx, cy: cy, r: 34 }));
    local.appendChild(svg("text", { x: cx, y: cy + 54 }, data.trustDomain + " (local)"));
    nodes.appendChild(local);

    if (feds.length === 0) {
      g.appendChild(svg("text", { x: cx, y: 40, "class": "edge-label" }, "No federation relationships."));
    }

    if (focusedTd) {
      const again = g.querySelector('.node.peer[data-td="' + CSS.escape(focusedTd) + '"]');
      if (again) again.focus({ preventScroll: true });
    }
  }

  function select(f, now) {
    selected = f.status.trustDomain;
    for (const n of document.querySelectorAll("#graph .node.peer")) n.classList.toggle("selected", n.dataset.td === selected);
    details(f, now);
  }

  function details(f, now) {
    const s = f.status;
    const box = $("edge-details");
    clear(box);
    box.appendChild(el("h3", {}, s.trustDomain));
    const dl = el("dl");
    const rows = [
      ["State", f.edgeState],
      ["Flags", s.flags.join(", ") || "none"],
      ["Approval", s.approval],
      ["Owner", s.owner || "none"],
      ["Sequence", s.sequence],
      ["Last refresh", age(s.lastRefresh, now)],
      ["Last error", s.lastError || "none"],
      ["Entries federating", s.federatingEntries],
      ["Traffic", format(s.usage, "usage", now, s)],
      ["Endpoint", s.url],
    ];
    for (const [k, v] of rows) {
      dl.appendChild(el("dt", {}, k));
      const dd = el("dd", {}, v);
      if (k === "State") dd.className = "state edge-" + f.edgeState;
      dl.appendChild(dd);
    }
    box.appendChild(dl);
    const link = el("a", { href: "#/federation/" + encodeURIComponent(s.trustDomain) }, "Open the relationship page");
    box.appendChild(el("p")).appendChild(link);
  }

  function legend() {
    const ul = $("legend");
    for (const [state, text] of STATES) {
      const li = el("li");
      li.appendChild(el("span", { "class": "swatch edge-" + state, "aria-hidden": "true" }));
      li.appendChild(document.createTextNode(text));
      ul.appendChild(li);
    }
  }

  // ---- relationship page ----

  // Every field `anchorage federation show` prints, labelled; later fields still show, unformatted.
  const FIELDS = [
    ["trustDomain", "Trust domain"], ["name", "Name"], ["owner", "Owner"], ["approval", "Approval"],
    ["approvedAt", "Approved at", "time"], ["approvedBy", "Approved by"], ["approvedByUid", "Approved by uid", "uid"],
    ["approvalNote", "Approval note"], ["approvedAuthorities", "Approved authorities", "list"],
    ["reviewEverySeconds", "Review every", "span"], ["reviewDueAt", "Review due", "time"],
    ["distributed", "Given to agents", "yesno"], ["flags", "Flags", "list"], ["unusedReason", "Unused because"],
    ["unusedAfterSeconds", "Unused after", "span"], ["usage", "Connections seen", "usage"],
    ["profile", "Profile"], ["url", "Bundle endpoint"], ["endpointSpiffeId", "Endpoint SPIFFE ID"], ["hasCaBundle", "Extra CA roots", "yesno"],
    ["sequence", "Bundle sequence"], ["lastRefresh", "Last successful refresh", "age"], ["lastAttempt", "Last attempt", "age"],
    ["lastError", "Last error"], ["lastErrorAt", "Last error at", "time"], ["consecutiveFailures", "Consecutive failures"],
    ["nextRefresh", "Next refresh", "time"], ["maxStalenessSeconds", "Max staleness", "duration"],
    ["earliestAnchorExpiry", "Earliest anchor expiry", "time"], ["federatingEntries", "Entries federating"],
    ["peerRefreshHintSeconds", "Peer refresh hint", "duration"], ["pollIntervalSeconds", "Poll interval", "duration"],
    ["worstCaseRevocationSeconds", "Worst-case revocation", "duration"], ["shortestAuthorityLifetimeSeconds", "Shortest authority lifetime", "duration"],
    ["hasOverlap", "Rotation overlap", "yesno"], ["smallestOverlapSeconds", "Smallest overlap", "overlap"],
    ["oldestAuthorityAgeSeconds", "Oldest authority age", "duration"], ["rotationWithoutOverlapAt", "Rotation without overlap", "time"],
    ["clockSkewMs", "Clock skew", "skew"],
    ["sequenceChanges", "Sequence changes seen"], ["medianSequenceChangeIntervalSeconds", "Median time between sequence changes", "duration"],
    ["lastSequenceChangeAt", "Last sequence change seen", "time"], ["fetchHistorySince", "Fetch history since", "time"],
    ["held", "Held by agents (sequence)", "held"],
    ["createdAt", "Created", "time"], ["updatedAt", "Updated", "time"],
  ];
  // Shown in tables of their own below the fields, or inside another field's row.
  const OWN_TABLES = new Set(["fetches", "hasClockSkew"]);

  async function loadFederation(td) {
    const data = await getJson("/api/federations/" + encodeURIComponent(td));
    const f = data.federation, s = f.status;
    $("federation-title").textContent = "Relationship with " + s.trustDomain;
    const state = $("federation-state");
    state.textContent = "State: " + f.edgeState;
    state.className = "state edge-" + f.edgeState;
    state.dataset.edgeState = f.edgeState;
    const table = $("federation-table");
    clear(table);
    const shown = new Set();
    for (const [key, label, kind] of FIELDS) {
      shown.add(key);
      table.appendChild(row(label, format(s[key], kind, data.now, s)));
    }
    // Fields added to the status later still show, unformatted.
    for (const key of Object.keys(s)) {
      if (!shown.has(key) && !OWN_TABLES.has(key)) table.appendChild(row(key, format(s[key], Array.isArray(s[key]) ? "list" : "", data.now)));
    }
    drawFetches(s.fetches || []);
    drawMap(data.map);
  }

  // A table's head and body from rows of cell texts; attrs(i) gives the i-th body row's attributes.
  function fillTable(id, columns, rows, attrs) {
    const table = $(id);
    clear(table);
    const head = el("tr");
    for (const c of columns) head.appendChild(el("th", { scope: "col" }, c));
    table.appendChild(el("thead")).appendChild(head);
    const body = el("tbody");
    rows.forEach((cells, i) => {
      const tr = el("tr", attrs ? attrs(i) : {});
      for (const v of cells) tr.appendChild(el("td", {}, v));
      body.appendChild(tr);
    });
    table.appendChild(body);
  }

  // The enforcement map, as `anchorage federation map` prints it: where the peer's IDs are validated,
  // the entries federating with it and their nodes, the policy rules naming it, the gates that saw it.
  function drawMap(map) {
    const b = map.bundle;
    const holding = b.agents.filter((a) => a.heldSequence !== null && num(a.heldSequence) === num(b.sequence)).length;
    $("map-summary").textContent = (b.distributed
      ? b.agents.length + " agent(s) receive the bundle, " + holding + " holding sequence " + b.sequence + "."
      : "Not given to agents (pending or suspended): no agent receives the bundle.")
      + " Policy: " + (map.policy ? "mode " + map.policy.mode + "." : "none applied.");
    const when = (t) => t || "none";
    fillTable("map-entries", ["SPIFFE ID", "Nodes", "Parent", "Entry ID"],
      map.entries.map((e) => [e.spiffeId, e.nodes.join(", ") || "none found", e.parentId, e.id]),
      (i) => ({ "data-entry": map.entries[i].id }));
    fillTable("map-agents", ["Agent", "Held sequence", "Reported"],
      b.agents.map((a) => [a.agentId, a.heldSequence === null ? "not reported" : a.heldSequence, when(a.reportedAt)]),
      (i) => ({ "data-agent": b.agents[i].agentId, "data-held": b.agents[i].heldSequence === null ? "" : b.agents[i].heldSequence }));
    const rules = map.policy ? map.policy.rules : [];
    fillTable("map-rules", ["Rule", "Action", "Mentions it in", "From", "To"],
      rules.map((r) => [r.name, r.action, r.mentions, r.from, r.to]),
      (i) => ({ "data-rule": rules[i].name }));
    fillTable("map-gates", ["Agent", "Direction", "Allowed", "Denied", "Listener", "Last allowed", "Last denied"],
      map.gates.map((g) => [g.agentId, g.direction, g.allowed, g.denied, g.listener || "unknown", when(g.lastAllowed), when(g.lastDenied)]),
      (i) => ({ "data-gate": map.gates[i].agentId + " " + map.gates[i].direction }));
    for (const [id, list, none] of [
      ["map-entries-note", map.entries, "No entry federates with it."],
      ["map-agents-note", b.agents, "No agent receives its bundle."],
      ["map-rules-note", rules, map.policy ? "No policy rule names it." : "No policy applied."],
      ["map-gates-note", map.gates, "No gate has reported traffic with it."],
    ]) {
      $(id).textContent = list.length === 0 ? none : "";
      $(id).hidden = list.length !== 0;
    }
  }

  function drawFetches(fetches) {
    fillTable("fetches-table", ["Time", "Outcome", "Sequence", "Refresh hint", "Clock skew", "Error"],
      fetches.map((f) => [new Date(num(f.timeMs)).toISOString(), f.outcome, f.hasSequence ? f.sequence : "none",
        num(f.refreshHintSeconds) === 0 ? "none" : duration(num(f.refreshHintSeconds)),
        f.hasClockSkew ? (num(f.clockSkewMs) / 1000).toFixed(1) + "s" : "unknown", f.message || ""]),
      (i) => ({ "data-outcome": fetches[i].outcome }));
    $("fetches-note").textContent = fetches.length === 0
      ? "No fetch recorded yet."
      : "The latest " + fetches.length + " fetches of the peer's bundle endpoint, newest first (at most 50 are kept).";
  }

  // One direction of the observed use: "3 allowed (last T), 1 denied (last T), 2 agent(s)".
  function use(usage, direction) {
    const rows = usage.filter((u) => u.direction === direction);
    if (rows.length === 0) return direction + ": none";
    const sum = (k) => rows.reduce((t, u) => t + num(u[k]), 0);
    const last = (k) => Math.max(...rows.map((u) => num(u[k])));
    const part = (k, lk) => sum(k) + " " + k + (last(lk) === 0 ? "" : " (last " + time(last(lk)) + ")");
    return direction + ": " + part("allowed", "lastAllowed") + ", " + part("denied", "lastDenied") + ", "
      + new Set(rows.map((u) => u.agentId)).size + " agent(s)";
  }

  function format(v, kind, now, s) {
    switch (kind) {
      case "yesno": return v ? "yes" : "no";
      case "span": return num(v) === 0 ? "none" : duration(num(v));
      case "uid": return num(v) < 0 ? "unknown (the admin api)" : String(num(v));
      case "usage": {
        const seen = Math.max(0, ...(v || []).map((u) => Math.max(num(u.lastAllowed), num(u.lastDenied))));
        return use(v || [], "outbound") + "; " + use(v || [], "inbound") + "; last seen " + time(seen);
      }
      case "overlap": return !s.hasOverlap ? "unknown" : num(v) < 0 ? "gap of " + duration(-num(v)) : duration(num(v));
      case "skew": return !s.hasClockSkew ? "unknown"
        : (num(v) >= 0 ? "+" : "-") + (Math.abs(num(v)) / 1000).toFixed(1) + "s (the peer is " + (num(v) >= 0 ? "ahead" : "behind") + ")";
      case "time": return time(v);
      case "held": return (v || []).map((h) => h.agentId + ": " + num(h.sequence) + " (reported " + time(h.reportedAt) + ")").join(", ") || "none reported";
      case "age": return age(v, now);
      case "duration": return num(v) === 0 ? "unknown" : duration(num(v));
      case "list": return (v || []).map((x) => (x !== null && typeof x === "object"
        ? Object.entries(x).map(([k, y]) => k + "=" + y).join(" ") : String(x))).join(", ") || "none";
      default: return v === "" || v === undefined ? "none" : String(v);
    }
  }

  function row(label, value) {
    const tr = el("tr");
    tr.appendChild(el("th", { scope: "row" }, label));
    tr.appendChild(el("td", {}, value));
    return tr;
  }

  // ---- authorities ----

  async function loadAuthorities() {
    const data = await getJson("/api/authorities");
    const list = data.authorities.slice().sort((a, b) => num(a.notBefore) - num(b.notBefore));
    drawTimeline(list, data.now);
    fillTable("authorities-table", ["Kind", "State", "Tainted", "Not before", "Not after", "Revoked at", "ID", "Server"],
      list.map((a) => [a.kind, a.state, a.tainted ? "tainted" : "no", time(a.notBefore), time(a.notAfter), a.state === "revoked" ? time(a.revokedAt) : "", a.id, a.serverId]),
      (i) => ({ "data-authority": list[i].id, "data-state": list[i].state }));
  }

  function drawTimeline(list, now) {
    const g = $("timeline");
    clear(g);
    const w = 800, left = 150, right = 20, rowH = 26, top = 24;
    const h = Math.max(80, top + list.length * rowH + 30);
    g.setAttribute("viewBox", "0 0 " + w + " " + h);
    if (list.length === 0) {
      g.appendChild(svg("text", { x: 12, y: 40, "class": "axis" }, "No authorities."));
      return;
    }
    let min = Math.min(now, ...list.map((a) => num(a.notBefore)));
    let max = Math.max(now, ...list.map((a) => num(a.notAfter)));
    if (max <= min) max = min + 1;
    const x = (t) => left + ((t - min) / (max - min)) * (w - left - right);
    list.forEach((a, i) => {
      const y = top + i * rowH;
      const label = a.kind + " " + a.state + (a.tainted ? " (tainted)" : "");
      g.appendChild(svg("text", { x: 8, y: y + 15, "class": "timeline-label" }, label));
      const bar = svg("rect", {
        x: x(num(a.notBefore)), y: y + 4, width: Math.max(2, x(num(a.notAfter)) - x(num(a.notBefore))), height: rowH - 10,
        "class": "bar bar-" + a.state + (a.tainted ? " bar-tainted" : ""),
      });
      bar.appendChild(svg("title", {}, label + ": " + time(a.notBefore) + " to " + time(a.notAfter) +
        (a.state === "revoked" ? ", revoked " + time(a.revokedAt) : "") + " (" + a.id + ")"));
      g.appendChild(bar);
      if (a.state === "revoked" && num(a.revokedAt) > 0) {
        const rx = x(num(a.revokedAt));
        g.appendChild(svg("line", { x1: rx, y1: y + 2, x2: rx, y2: y + rowH - 4, "class": "revoked-mark" }));
      }
    });
    const nx = x(now);
    g.appendChild(svg("line", { x1: nx, y1: top - 8, x2: nx, y2: h - 24, "class": "now-line" }));
    g.appendChild(svg("text", { x: nx, y: top - 10, "class": "axis", "text-anchor": "middle" }, "now"));
    g.appendChild(svg("text", { x: left, y: h - 8, "class": "axis" }, time(min)));
    g.appendChild(svg("text", { x: w - right, y: h - 8, "class": "axis", "text-anchor": "end" }, time(max)));
  }

  // ---- entries and agents ----

  const LISTS = {
    entries: {
      columns: ["SPIFFE ID", "Parent", "Selectors", "Federates with", "ID"],
      cells: (e) => [e.spiffeId, e.parentId, e.selectors.map((s) => s.type + ":" + s.value).join(" "), e.federatesWith.join(", ") || "none", e.id],
    },
    agents: {
      columns: ["SPIFFE ID", "Attestation", "Banned", "Certificate expires", "Selectors"],
      cells: (a) => [a.spiffeId, a.attestationType, a.banned ? "banned" : "no", time(a.certExpiresAt), a.selectors.map((s) => s.type + ":" + s.value).join(" ")],
    },
  };

  async function loadList(kind) {
    const q = $(kind + "-q").value.trim();
    const data = await getJson("/api/" + kind + "?q=" + encodeURIComponent(q));
    const items = data[kind];
    const spec = LISTS[kind];
    fillTable(kind + "-table", spec.columns, items.map(spec.cells));
    $(kind + "-note").textContent = items.length + (items.length === 1 ? " match" : " matches") + (data.truncated ? " (more exist: narrow the search)" : "");
  }

  function searchBox(kind) {
    let pending = null;
    $(kind + "-q").addEventListener("input", () => {
      if (pending) clearTimeout(pending);
      pending = setTimeout(() => start(kind, ""), 250);
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    legend();
    searchBox("entries");
    searchBox("agents");
    window.addEventListener("hashchange", route);
    route();
  });
})();
