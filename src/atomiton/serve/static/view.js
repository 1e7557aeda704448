// The atomiton live view: draws a laid-out graph (positions come from the server), follows a
// run over the JSON-RPC WebSocket, and draws the timeline and failures once it ends. With data
// embedded in the page (a saved report) it draws that and opens no connection.
"use strict";
(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const W = 180, H = 48;
  const $ = (id) => document.getElementById(id);
  let view = null, scale = 1, socket = null, nextId = 1, currentRun = null;
  const embedded = JSON.parse($("atomiton-data").textContent || "null");
  const pending = new Map();
  const stateOf = new Map();

  function el(name, attrs, parent) {
    const node = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (parent) parent.appendChild(node);
    return node;
  }
  function text(parent, x, y, value, cls) {
    const t = el("text", { x: x, y: y, class: cls || "" }, parent);
    t.textContent = value;
    return t;
  }

  function drawGraph(v) {
    view = v;
    $("title").textContent = v.title || "atomiton";
    document.title = (v.title || "atomiton") + " - atomiton";
    const svg = $("graph");
    svg.innerHTML = "";
    svg.setAttribute("viewBox", `0 0 ${v.width} ${v.height}`);
    applyZoom();
    const at = new Map(v.nodes.map((n) => [n.id, n]));
    for (const g of v.groups) {
      const box = el("g", { class: "group", "data-group": g.id }, svg);
      el("rect", { x: g.x, y: g.y, width: g.width, height: g.height, rx: 8 }, box);
      text(box, g.x + 8, g.y + 13, g.id);
    }
    for (const e of v.edges) {
      const a = at.get(e.source), b = at.get(e.target);
      if (!a || !b) continue;
      const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2, mid = (x1 + x2) / 2;
      el("path", { class: "edge", d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}` }, svg);
    }
    const critical = new Set(v.criticalPath || []);
    for (const n of v.nodes) {
      const state = stateOf.get(n.id) || n.state;
      const g = el("g", { class: `node state-${state}`, "data-node-id": n.id, "data-state": state,
        transform: `translate(${n.x},${n.y})` }, svg);
      if (critical.has(n.id)) g.classList.add("critical");
      el("rect", { width: W, height: H }, g);
      text(g, 10, 20, n.label.length > 24 ? n.label.slice(0, 23) + "\u2026" : n.label);
      text(g, 10, 37, n.type, "type");
      const tip = el("title", {}, g);
      tip.textContent = n.id + (n.position ? "\n" + n.position : "");
      g.addEventListener("click", () => selectNode(n.id));
    }
    setProgress(v.progress || 0);
    if (v.run) $("run-status").textContent = v.run.status;
    drawTimeline(v);
    drawFailures(v.failures || []);
  }

  function applyZoom() {
    if (!view) return;
    const svg = $("graph");
    svg.setAttribute("width", view.width * scale);
    svg.setAttribute("height", view.height * scale);
  }

  function setState(id, state) {
    stateOf.set(id, state);
    const g = document.querySelector(`#graph [data-node-id="${CSS.escape(id)}"]`);
    if (!g) return;
    g.setAttribute("class", `node state-${state}`);
    g.setAttribute("data-state", state);
  }

  function setProgress(percent) {
    const p = Math.max(0, Math.min(100, percent));
    $("progress").textContent = p.toFixed(0) + "%";
    $("progress-fill").style.width = p + "%";
  }

  function drawTimeline(v) {
    const svg = $("timeline");
    svg.innerHTML = "";
    const bars = v.timeline || [];
    if (!bars.length) { svg.setAttribute("height", 0); return; }
    const rows = [...new Set(bars.map((b) => b.node))];
    const end = Math.max(...bars.map((b) => b.end), 1e-3);
    const left = 190, width = 560, rowH = 18;
    const critical = new Set(v.criticalPath || []);
    svg.setAttribute("width", left + width + 60);
    svg.setAttribute("height", rows.length * rowH + 24);
    rows.forEach((node, i) => text(svg, 4, i * rowH + 13, node, "tl-label"));
    for (const b of bars) {
      const y = rows.indexOf(b.node) * rowH + 3;
      const x = left + (b.start / end) * width;
      const w = Math.max(2, ((b.end - b.start) / end) * width);
      const r = el("rect", { x: x, y: y, width: w, height: rowH - 6, "data-node-id": b.node,
        "data-attempt": b.attempt, class: `bar bar-${b.outcome}` }, svg);
      if (critical.has(b.node)) r.classList.add("critical");
      const tip = el("title", {}, r);
      tip.textContent = `${b.node} attempt ${b.attempt}: ${b.outcome}, ` +
        `${(b.end - b.start).toFixed(3)} s`;
    }
    text(svg, left, rows.length * rowH + 18, `0 s`, "tl-label");
    text(svg, left + width - 40, rows.length * rowH + 18, `${end.toFixed(3)} s`, "tl-label");
  }

  function drawFailures(failures) {
    const list = $("failures");
    list.innerHTML = "";
    for (const f of failures) {
      const li = document.createElement("li");
      li.setAttribute("data-node-id", f.node);
      const pos = document.createElement("span");
      pos.className = "pos";
      pos.textContent = (f.position || "?") + ": ";
      li.appendChild(pos);
      li.appendChild(document.createTextNode(`${f.node}: ${f.error}`));
      list.appendChild(li);
    }
  }

  // During a live run the values shown are fetched when a node is clicked.
  async function selectNode(id) {
    showDetails(id);
    if (!socket || !currentRun || embedded) return;
    const runId = currentRun;
    const v = await call("view.get", { runId: runId });
    if (currentRun !== runId || !view) return;
    view.values = v.values;
    showDetails(id);
  }

  function showDetails(id) {
    document.querySelectorAll("#graph .node.selected").forEach((g) => g.classList.remove("selected"));
    const g = document.querySelector(`#graph [data-node-id="${CSS.escape(id)}"]`);
    if (g) g.classList.add("selected");
    const n = view.nodes.find((x) => x.id === id) || {};
    const fields = [["id", id], ["type", n.type], ["state", stateOf.get(id) || n.state],
      ["position", n.position || ""]];
    // A node's value as recorded; none yet while it may still run, none at all once it cannot.
    const values = view.values || {};
    const valueOf = (node) => node in values ? JSON.stringify(values[node]) :
      ["pending", "running"].includes(stateOf.get(node) ||
        (view.nodes.find((x) => x.id === node) || {}).state || "pending") ? "(not yet)" : "(none)";
    fields.push(["output", valueOf(id)]);
    for (const e of view.edges.filter((x) => x.target === id)) {
      const from = e.label ? `input ${e.label} (from ${e.source})` : `input from ${e.source}`;
      fields.push([from, valueOf(e.source)]);
    }
    for (const name of n.produces || []) {
      const value = view.outputs && name in view.outputs ? JSON.stringify(view.outputs[name]) : "(not yet)";
      fields.push([`output ${name}`, value]);
    }
    const failure = (view.failures || []).find((f) => f.node === id);
    if (failure) fields.push(["error", failure.error]);
    const bars = (view.timeline || []).filter((b) => b.node === id);
    bars.forEach((b) => fields.push([`attempt ${b.attempt}`,
      `${b.outcome}, ${(b.end - b.start).toFixed(3)} s from ${b.start.toFixed(3)} s`]));
    if (view.inputs !== null && view.inputs !== undefined)
      fields.push(["run inputs", JSON.stringify(view.inputs)]);
    const dl = document.createElement("dl");
    for (const [k, v] of fields) {
      const dt = document.createElement("dt"); dt.textContent = k; dl.appendChild(dt);
      const dd = document.createElement("dd"); dd.textContent = v; dl.appendChild(dd);
    }
    $("detail-body").replaceChildren(dl);
  }

  // --- the live side: JSON-RPC over the WebSocket ------------------------------------------
  function call(method, params) {
    const id = nextId++;
    socket.send(JSON.stringify({ jsonrpc: "2.0", id: id, method: method, params: params || {} }));
    return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
  }

  function onEvent(p) {
    const e = p.event;
    if (e.event.startsWith("execution.") && e.event !== "execution.progress") refreshRuns();
    if (p.runId !== currentRun) return;
    const kind = e.event;
    if (kind === "node.started" || kind === "node.retrying") setState(e.node_id, "running");
    else if (kind === "node.completed") setState(e.node_id, e.supplied || "done");
    else if (kind === "node.failed") setState(e.node_id, "failed");
    else if (kind === "node.skipped")
      setState(e.node_id, (e.reason || "").includes("cache") ? "cached" : "skipped");
    else if (kind === "execution.progress") setProgress(e.percent);
    else if (kind.startsWith("execution.")) {
      $("run-status").textContent = kind.split(".")[1];
      if (kind !== "execution.started") openRun(p.runId, false);
    }
  }

  async function refreshRuns() {
    const { runs } = await call("runs.list", { last: 50 });
    const list = $("run-list");
    list.innerHTML = "";
    for (const r of runs) {
      const li = document.createElement("li");
      li.setAttribute("data-run-id", r.runId);
      if (r.runId === currentRun) li.className = "selected";
      const st = document.createElement("span");
      st.className = `st st-${r.status}`;
      st.textContent = r.status;
      li.appendChild(st);
      li.appendChild(document.createTextNode(`${r.blueprint} ${r.runId.slice(-8)}`));
      li.addEventListener("click", () => openRun(r.runId, true));
      list.appendChild(li);
    }
  }

  async function openRun(runId, follow) {
    if (follow) stateOf.clear();
    currentRun = runId;
    const v = await call("view.get", { runId: runId });
    if (currentRun !== runId) return;
    if (follow) { stateOf.clear(); drawGraph(v); await call("subscribe", { runId: runId }); }
    else { for (const n of v.nodes) stateOf.set(n.id, n.state); drawGraph(v); }
    document.querySelectorAll("#run-list li").forEach((li) =>
      li.classList.toggle("selected", li.getAttribute("data-run-id") === runId));
  }

  function connect() {
    const token = new URLSearchParams(location.search).get("token");
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/rpc` +
      (token ? `?token=${encodeURIComponent(token)}` : "");
    socket = new WebSocket(url);
    socket.onmessage = (m) => {
      const msg = JSON.parse(m.data);
      for (const one of Array.isArray(msg) ? msg : [msg]) {
        if (one.method === "run.event") onEvent(one.params);
        else if (pending.has(one.id)) {
          const { resolve, reject } = pending.get(one.id);
          pending.delete(one.id);
          one.error ? reject(one.error) : resolve(one.result);
        }
      }
    };
    socket.onopen = async () => {
      document.body.setAttribute("data-connected", "true");
      await call("subscribe", {});
      await refreshRuns();
      const wanted = new URLSearchParams(location.search).get("run");
      if (wanted) openRun(wanted, true);
    };
    socket.onclose = () => document.body.setAttribute("data-connected", "false");
  }

  $("run-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const raw = $("run-inputs").value.trim();
    try {
      const inputs = raw ? JSON.parse(raw) : {};
      const path = $("run-path").value.trim();
      const v = await call("view.get", { path: path });
      stateOf.clear();
      drawGraph(v);
      const { runId } = await call("run", { path: path, inputs: inputs });
      currentRun = runId;
      for (const [id, st] of stateOf) setState(id, st);
      refreshRuns();
    } catch (err) {
      $("run-status").textContent = "error: " + (err.message || err) +
        (err.data && err.data.diagnostics ? " " + err.data.diagnostics.map((d) =>
          `${d.path}:${d.line}:${d.column} ${d.message}`).join("; ") : "");
    }
  });
  $("cancel-run").addEventListener("click", () => currentRun && call("cancel", { runId: currentRun }));
  $("zoom-in").addEventListener("click", () => { scale *= 1.25; applyZoom(); });
  $("zoom-out").addEventListener("click", () => { scale /= 1.25; applyZoom(); });

  if (embedded) {
    document.body.classList.add("report");
    drawGraph(embedded);
  } else {
    connect();
  }
})();
