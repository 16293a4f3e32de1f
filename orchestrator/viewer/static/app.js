/* The trace viewer page: run list and run detail over the orchestrate events API.
 *
 * One plain script, no build step and no network beyond the API, so the same file works from
 * `orchestrate serve` and inlined into an exported HTML file. When `window.__ORCHESTRATE_TRACE__`
 * holds a detail document (export), that document is the only data: no fetch, no EventSource.
 * Text that comes from events is only ever inserted as text (textContent, text nodes, attributes),
 * never parsed as HTML.
 */
(function () {
  "use strict";

  const SVG_NS = "http://www.w3.org/2000/svg";
  const KINDS = { ui: "UI gate", scenario: "scenario run", pack: "pack", pack_loop: "pack loop", custom: "custom" };
  const STATUSES = ["completed", "failed", "in_progress", "interrupted"];
  const MODES = [["status", "Status"], ["duration", "Duration"], ["tokens", "Tokens"]];
  const GRID = { labelWidth: 210, colWidth: 14, rowHeight: 22, top: 8, rMin: 2, rMax: 9, rFixed: 5 };
  const LIST_REFRESH_MS = 250;
  const DETAIL_REFRESH_MS = 400;

  const state = {
    exported: false,
    runs: [],
    nextBefore: null,
    filters: { kind: "", status: "" },
    knownRuns: new Set(),
    detail: null,
    detailId: null,
    trajectoryId: null,
    mode: "status",
    threshold: 5000,
    eventPrefix: "",
    selectedSeq: null,
    listTimer: null,
    detailTimer: null,
  };

  // ---- DOM helpers: every string goes in as text ----------------------------------------------

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    applyAttrs(node, attrs);
    append(node, children);
    return node;
  }

  function svg(tag, attrs, children) {
    const node = document.createElementNS(SVG_NS, tag);
    applyAttrs(node, attrs);
    append(node, children);
    return node;
  }

  function applyAttrs(node, attrs) {
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "text") node.textContent = String(value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(key, String(value));
    }
  }

  function append(node, children) {
    for (const child of [].concat(children === undefined ? [] : children)) {
      if (child === null || child === undefined || child === false) continue;
      node.append(typeof child === "string" || typeof child === "number" ? document.createTextNode(String(child)) : child);
    }
  }

  function tooltip(text) {
    return svg("title", { text });
  }

  // A file of the run's dir (a screenshot, a trace, a report), as a link the browser can follow:
  // served, through the API's /runs/<id>/files/ route (never another origin); exported, relative
  // to the exported file. The browser's own URL parser decides the scheme, so "java\tscript:",
  // " javascript:" and the like are refused as it would read them, not as a pattern might.
  function fileHref(path) {
    if (typeof path !== "string" || !path.trim()) return null;
    const runId = state.detail && state.detail.run ? state.detail.run.run_id : state.detailId;
    const base = state.exported || !runId
      ? document.baseURI
      : new URL(`/runs/${encodeURIComponent(runId)}/files/`, location.origin).href;
    let url;
    try {
      url = new URL(path, base);
    } catch (error) {
      return null;
    }
    if (state.exported) return ["http:", "https:", "file:"].includes(url.protocol) ? url.href : null;
    return url.origin === location.origin && url.pathname.startsWith(new URL(base).pathname) ? url.href : null;
  }

  function cut(text, limit) {
    const value = text === null || text === undefined ? "" : String(text);
    return value.length <= limit ? value : value.slice(0, limit - 1) + "…";
  }

  // ---- formatting --------------------------------------------------------------------------------

  function fmtDuration(ms) {
    if (ms === null || ms === undefined) return "—";
    if (ms < 1000) return `${Math.round(ms)} ms`;
    return `${(ms / 1000).toFixed(1)}s`;
  }

  function fmtCount(n) {
    const value = Number(n) || 0;
    if (value < 1000) return String(value);
    if (value < 1e6) return `${(value / 1e3).toFixed(1)}K`;
    return `${(value / 1e6).toFixed(1)}M`;
  }

  function plural(n, word) {
    return `${n} ${word}${n === 1 ? "" : "s"}`;
  }

  function statusClass(status) {
    return String(status || "").replace(/_/g, "-");
  }

  function statusPill(status) {
    const name = statusClass(status);
    return el("span", { class: `trace-run-status trace-run-status--${name}`, text: name.replace("-", " ") });
  }

  function pill(text, extra) {
    return el("span", { class: `trace-pill${extra ? " " + extra : ""}`, text });
  }

  // ---- data access -------------------------------------------------------------------------------

  async function getJSON(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.detail || `${response.status} ${response.statusText}`);
    return body;
  }

  function app() {
    return document.getElementById("app");
  }

  function mount(...nodes) {
    app().replaceChildren(...nodes.filter((node) => node !== null && node !== undefined && node !== false));
  }

  function showError(message) {
    mount(el("p", { class: "trace-error", text: message }));
  }

  // ---- routing -----------------------------------------------------------------------------------

  function route() {
    if (state.exported) return renderDetail();
    const one = /^#\/runs\/([^/]+)\/trajectories\/(.+)$/.exec(location.hash);
    if (one) return openDetail(decodeURIComponent(one[1]), decodeURIComponent(one[2]));
    const match = /^#\/runs\/(.+)$/.exec(location.hash);
    if (match) return openDetail(decodeURIComponent(match[1]), null);
    state.detail = null;
    state.detailId = null;
    state.trajectoryId = null;
    return loadRuns();
  }

  // ---- run list ----------------------------------------------------------------------------------

  async function loadRuns(more) {
    const params = new URLSearchParams({ limit: "50" });
    if (state.filters.kind) params.set("kind", state.filters.kind);
    if (state.filters.status) params.set("status", state.filters.status);
    if (more && state.nextBefore) params.set("before", state.nextBefore);
    let body;
    try {
      body = await getJSON(`/runs?${params}`);
    } catch (error) {
      return showError(`Could not load runs: ${error.message}`);
    }
    if (state.detailId !== null) return; // the user opened a run meanwhile
    state.runs = more ? state.runs.concat(body.runs) : body.runs;
    state.nextBefore = body.next_before;
    for (const run of body.runs) state.knownRuns.add(run.run_id);
    renderRunList();
  }

  function filterSelect(name, label, options) {
    const select = el("select", {
      class: `trace-filter trace-filter--${name}`,
      "aria-label": label,
      onchange: (event) => {
        state.filters[name] = event.target.value;
        loadRuns();
      },
    });
    select.append(el("option", { value: "", text: `all ${label === "status" ? "statuses" : label + "s"}` }));
    for (const [value, text] of options) {
      select.append(el("option", { value, text, selected: state.filters[name] === value ? "" : null }));
    }
    return select;
  }

  function renderRunList() {
    const filters = el("div", { class: "trace-filters" }, [
      filterSelect("kind", "kind", Object.entries(KINDS)),
      filterSelect("status", "status", STATUSES.map((s) => [s, statusClass(s).replace("-", " ")])),
    ]);
    const rows = state.runs.map(runRow);
    const list = el("div", { class: "trace-run-list" }, rows.length ? rows : el("p", { class: "trace-empty", text: "No runs yet." }));
    const more = state.nextBefore
      ? el("button", { class: "trace-more", type: "button", text: "Older runs", onclick: () => loadRuns(true) })
      : null;
    mount(el("h1", { text: "Runs" }), filters, list, more);
  }

  function runRow(run) {
    const open = () => {
      location.hash = `#/runs/${encodeURIComponent(run.run_id)}`;
    };
    return el("div", { class: "trace-run-row", dataset: { runId: run.run_id } }, [
      el("button", { class: "trace-run-toggle", type: "button", onclick: open, title: run.run_id }, [
        el("span", { class: "trace-run-id", text: run.run_id }),
        el("span", { class: "trace-run-started", text: run.started_at ? run.started_at.replace("T", " ").slice(0, 19) : "" }),
      ]),
      statusPill(run.status),
      el("span", { class: "trace-run-kind", text: KINDS[run.kind] || run.kind }),
      run.target ? el("span", { class: "trace-run-target", text: cut(run.target, 40), title: run.target }) : null,
      el("span", { class: "trace-run-pills" }, [
        pill(plural(run.worker_calls, "worker call")),
        pill(plural(run.worker_count, "worker")),
        run.capability_failures ? pill(plural(run.capability_failures, "failure"), "trace-pill--bad") : null,
        pill(fmtDuration(run.duration_ms)),
        pill(`${fmtCount(run.total_tokens)} tok`),
      ]),
      sparkline(run.sparkline || []),
    ]);
  }

  function sparkline(values) {
    const width = 120;
    const height = 16;
    const top = Math.max(1, ...values);
    const step = values.length > 1 ? width / (values.length - 1) : width;
    const points = values.map((v, i) => `${(i * step).toFixed(1)},${(height - 1 - (v / top) * (height - 2)).toFixed(1)}`);
    return svg("svg", { class: "trace-run-sparkline", width, height, viewBox: `0 0 ${width} ${height}`, "aria-hidden": "true" }, [
      points.length ? svg("polyline", { points: points.join(" "), class: "trace-run-sparkline-line" }) : null,
    ]);
  }

  // ---- live stream -------------------------------------------------------------------------------

  function connectStream() {
    if (typeof EventSource === "undefined") return;
    const source = new EventSource("/logs/stream");
    const live = document.getElementById("trace-live");
    source.addEventListener("open", () => {
      if (live) live.hidden = false;
    });
    source.addEventListener("error", () => {
      if (live) live.hidden = true;
    });
    source.addEventListener("event", (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch (_) {
        return;
      }
      onStreamEvent(event);
    });
  }

  function onStreamEvent(event) {
    const runId = event.run_id;
    if (!runId) return;
    if (state.detailId === null) {
      const isNew = !state.knownRuns.has(runId);
      state.knownRuns.add(runId); // asked for once, even when it lies beyond the first page
      if (isNew || String(event.event_type).startsWith("conductor.task.")) {
        clearTimeout(state.listTimer);
        state.listTimer = setTimeout(() => loadRuns(), LIST_REFRESH_MS);
      }
    } else if (runId === state.detailId) {
      clearTimeout(state.detailTimer);
      state.detailTimer = setTimeout(() => refreshDetail(runId), DETAIL_REFRESH_MS);
    }
  }

  // ---- run detail --------------------------------------------------------------------------------

  async function openDetail(runId, trajectoryId) {
    if (state.detailId !== runId || state.trajectoryId !== trajectoryId) {
      state.selectedSeq = null;
      state.eventPrefix = "";
    }
    state.detailId = runId;
    state.trajectoryId = trajectoryId;
    mount(el("p", { class: "trace-empty", text: "Loading run…" }));
    await refreshDetail(runId);
  }

  async function refreshDetail(runId) {
    let detail;
    try {
      const only = state.trajectoryId ? `?trajectory=${encodeURIComponent(state.trajectoryId)}` : "";
      detail = await getJSON(`/runs/${encodeURIComponent(runId)}${only}`);
    } catch (error) {
      if (state.detailId === runId) showError(`Could not load run ${runId}: ${error.message}`);
      return;
    }
    if (state.detailId !== runId) return;
    state.detail = detail;
    renderDetail();
  }

  function renderDetail() {
    const d = state.detail;
    const run = d.run;
    const head = el("div", { class: "trace-detail-head" }, [
      state.exported ? null : el("a", { class: "trace-back", href: "#/", text: "← runs" }),
      el("h1", { class: "trace-detail-title", text: run.run_id }),
      d.trajectory
        ? el("span", { class: "trace-trajectory-title" }, [
            el("span", { text: "trajectory " }),
            el("code", { text: d.trajectory }),
            state.exported
              ? null
              : el("a", { class: "trace-back", href: `#/runs/${encodeURIComponent(run.run_id)}`, text: " (whole run)" }),
          ])
        : null,
      statusPill(run.status),
      el("span", { class: "trace-run-kind", text: KINDS[run.kind] || run.kind }),
      run.target ? el("span", { class: "trace-run-target", text: run.target }) : null,
    ]);
    const pills = el("div", { class: "trace-pills" }, [
      pill(plural(d.pills.calls, "call")),
      pill(plural(d.pills.failures, "failure"), d.pills.failures ? "trace-pill--bad" : null),
      pill(`${fmtCount(d.pills.tokens)} tok`),
      pill(fmtDuration(d.pills.duration_ms)),
      pill(plural(run.worker_count, "worker")),
    ]);
    mount(
      head,
      pills,
      section("Delegations", delegationTimeline(d.delegations)),
      section("Agent graph", agentGraph(d.graph)),
      section("Worker lifecycle", lifecycleStrips(d.lifecycles)),
      section("Trajectory", trajectory(d.grid)),
      d.job ? section("Job", jobPanel(d.job)) : null,
      section("LLM calls", llmCards(d.llm_calls)),
      section("Tool calls", toolCards(d.tool_calls)),
      section("Events", eventList(d.events, d.events_truncated)),
    );
    if (state.selectedSeq !== null) highlightSeq(state.selectedSeq, false);
  }

  function section(title, body) {
    return el("section", { class: "trace-section" }, [el("h2", { text: title }), body]);
  }

  // ---- delegation timeline -----------------------------------------------------------------------

  function delegationTimeline(delegations) {
    const box = el("div", { class: "trace-delegation-timeline" });
    if (!delegations.length) box.append(el("p", { class: "trace-empty", text: "No delegations in this run." }));
    for (const band of delegations) {
      const outcome = band.outcome || "inflight";
      const modifier = outcome === "failed" || outcome === "blocked" ? ` trace-delegation-band--${outcome}` : "";
      box.append(
        el(
          "button",
          {
            type: "button",
            class: `trace-delegation-band trace-delegation-band--outcome-${outcome}${modifier}`,
            title: cut(band.objective_short || band.objective, 200),
            dataset: { callId: band.call_id },
            onclick: () => focusLifecycle(band.call_id, band.task_id),
          },
          [
            el("span", { class: "trace-delegation-label", text: band.worker_type }),
            el("span", { class: `trace-delegation-badge trace-delegation-badge--${outcome}`, text: outcome }),
            el("span", { class: "trace-delegation-duration", text: fmtDuration(band.duration_ms) }),
          ],
        ),
      );
    }
    return box;
  }

  function focusLifecycle(callId, taskId) {
    const strips = Array.from(document.querySelectorAll(".trace-lifecycle"));
    const strip =
      strips.find((s) => callId && s.dataset.callId === callId) || strips.find((s) => taskId && s.dataset.taskId === taskId);
    if (!strip) return;
    for (const other of strips) other.classList.remove("trace-lifecycle--focus");
    strip.classList.add("trace-lifecycle--focus");
    strip.scrollIntoView({ block: "center" });
  }

  // ---- agent graph -------------------------------------------------------------------------------

  function agentGraph(graph) {
    const columns = { conductor: 90, worker_type: 330, worker: 570 };
    const counts = { conductor: 0, worker_type: 0, worker: 0 };
    const spots = new Map();
    for (const node of graph.nodes) {
      const kind = columns[node.kind] === undefined ? "worker" : node.kind;
      spots.set(node.id, { x: columns[kind], y: 30 + counts[kind] * 46, node, kind });
      counts[kind] += 1;
    }
    const height = Math.max(70, 30 + Math.max(...Object.values(counts)) * 46);
    const nodeWidth = 150;
    const edges = graph.edges.map((edge) => {
      const a = spots.get(edge.source);
      const b = spots.get(edge.target);
      if (!a || !b) return null;
      const x1 = a.x + nodeWidth / 2;
      const x2 = b.x - nodeWidth / 2;
      const mid = (x1 + x2) / 2;
      return svg("path", {
        class: `trace-graph-edge trace-graph-edge--${edge.status}`,
        d: `M${x1},${a.y} C${mid},${a.y} ${mid},${b.y} ${x2},${b.y}`,
      }, tooltip(`${edge.source} → ${edge.target}: ${edge.status}`));
    });
    const nodes = Array.from(spots.values()).map(({ x, y, node, kind }) => {
      const kindClass = kind === "worker" ? "trace-worker-node" : kind === "worker_type" ? "trace-worker-type-node" : "trace-conductor-node";
      return svg("g", { class: `trace-graph-node ${kindClass} trace-graph-node--${statusClass(node.status)}`, transform: `translate(${x},${y})` }, [
        svg("rect", { x: -nodeWidth / 2, y: -15, width: nodeWidth, height: 30, rx: 6 }),
        svg("text", { "text-anchor": "middle", dy: "0.35em", text: cut(node.label, 22) }),
        tooltip(`${node.kind}: ${node.label} (${node.status || "?"})`),
      ]);
    });
    return svg("svg", { class: "trace-agent-graph", width: 680, height, viewBox: `0 0 680 ${height}`, role: "img" }, [
      ...edges,
      ...nodes,
    ]);
  }

  // ---- worker lifecycle --------------------------------------------------------------------------

  function lifecycleStrips(lifecycles) {
    const box = el("div", { class: "trace-lifecycles" });
    if (!lifecycles.length) box.append(el("p", { class: "trace-empty", text: "No worker tasks in this run." }));
    for (const life of lifecycles) {
      const detail = el("div", { class: "trace-lifecycle-detail", hidden: "" });
      const chips = el("div", { class: "trace-lifecycle-chips" });
      life.chips.forEach((chip, index) => {
        if (index) chips.append(el("span", { class: "trace-lifecycle-arrow", text: "→", "aria-hidden": "true" }));
        chips.append(
          el("button", {
            type: "button",
            class: `trace-lifecycle-chip trace-lifecycle-chip--${chip.kind}`,
            dataset: { seq: String(chip.seq) },
            title: cut(chip.text, 200),
            text: `${chip.kind}: ${cut(chip.text, 48)}`,
            onclick: () => showChip(detail, chip),
          }),
        );
      });
      box.append(
        el("div", { class: "trace-lifecycle", dataset: { taskId: life.task_id, callId: life.call_id || "" } }, [
          el("div", { class: "trace-lifecycle-head" }, [
            el("strong", { text: life.worker_type || "worker" }),
            el("span", { class: "trace-muted", text: ` ${life.worker_id || ""} · task ${life.task_id}` }),
          ]),
          chips,
          detail,
        ]),
      );
    }
    return box;
  }

  function showChip(detail, chip) {
    const same = !detail.hidden && detail.dataset.seq === String(chip.seq);
    detail.hidden = same;
    if (same) return;
    detail.dataset.seq = String(chip.seq);
    detail.replaceChildren();
    append(detail, [
      el("div", { class: "trace-lifecycle-detail-kind", text: `${chip.kind} · seq ${chip.seq}` }),
      el("p", { class: "trace-lifecycle-detail-text", text: chip.text }),
      Object.keys(chip.detail || {}).length ? el("pre", { text: JSON.stringify(chip.detail, null, 2) }) : null,
    ]);
  }

  // ---- trajectory grid ---------------------------------------------------------------------------

  function trajectory(grid) {
    const holder = el("div", { class: "trace-traj-holder" });
    const modes = el("div", { class: "trace-traj-modes", role: "group", "aria-label": "grid mode" });
    for (const [mode, label] of MODES) {
      modes.append(
        el("button", {
          type: "button",
          class: `trace-pill trace-traj-mode trace-traj-mode--${mode}${state.mode === mode ? " trace-traj-mode--active" : ""}`,
          "aria-pressed": String(state.mode === mode),
          text: label,
          onclick: () => {
            state.mode = mode;
            for (const button of modes.children) {
              const active = button.classList.contains(`trace-traj-mode--${mode}`);
              button.classList.toggle("trace-traj-mode--active", active);
              button.setAttribute("aria-pressed", String(active));
            }
            drawGrid(holder, grid);
          },
        }),
      );
    }
    const threshold = el("input", {
      type: "number",
      min: "0",
      step: "100",
      class: "trace-traj-threshold",
      "aria-label": "slow threshold (ms)",
      value: String(state.threshold),
      oninput: (event) => {
        const value = Number(event.target.value);
        if (!Number.isFinite(value) || value < 0) return;
        state.threshold = value;
        drawGrid(holder, grid);
        updateSlowBars();
      },
    });
    const note =
      grid.bucket_size > 1
        ? el("span", { class: "trace-traj-bucket-note trace-muted", text: `${grid.steps} steps, ${grid.bucket_size} per column` })
        : el("span", { class: "trace-traj-bucket-note trace-muted", text: plural(grid.steps, "step") });
    const controls = el("div", { class: "trace-traj-controls" }, [
      modes,
      el("label", { class: "trace-traj-threshold-label" }, ["slow over ", threshold, " ms"]),
      note,
    ]);
    drawGrid(holder, grid);
    return el("div", {}, [controls, holder]);
  }

  function radius(cell, maxima) {
    if (state.mode === "status") return GRID.rFixed;
    const value = state.mode === "duration" ? cell.duration_ms : cell.tokens;
    const top = state.mode === "duration" ? maxima.duration : maxima.tokens;
    if (!value || !top) return GRID.rMin;
    return GRID.rMin + ((GRID.rMax - GRID.rMin) * Math.log1p(value)) / Math.log1p(top);
  }

  function drawGrid(holder, grid) {
    const rowIndex = new Map(grid.rows.map((row, index) => [row.key, index]));
    const width = GRID.labelWidth + grid.columns.length * GRID.colWidth + 12;
    const height = GRID.top + grid.rows.length * GRID.rowHeight + 8;
    const maxima = {
      duration: Math.max(0, ...grid.cells.map((c) => c.duration_ms || 0)),
      tokens: Math.max(0, ...grid.cells.map((c) => c.tokens || 0)),
    };
    const parts = [];
    grid.rows.forEach((row, index) => {
      const y = GRID.top + index * GRID.rowHeight;
      parts.push(svg("rect", { class: `trace-traj-row-band${index % 2 ? " trace-traj-row-band--odd" : ""}`, x: 0, y, width, height: GRID.rowHeight }));
      parts.push(svg("g", {}, [
        svg("text", { class: "trace-traj-row-label", x: 6, y: y + GRID.rowHeight / 2, dy: "0.35em", text: cut(row.key, 30) }),
        tooltip(row.key),
      ]));
    });
    for (const column of grid.columns) {
      if (!column.loop_boundary) continue;
      const x = GRID.labelWidth + column.index * GRID.colWidth;
      parts.push(svg("line", { class: "trace-traj-divider", x1: x, x2: x, y1: GRID.top - 4, y2: height - 4 }));
    }
    for (const cell of grid.cells) {
      const row = rowIndex.get(cell.row);
      if (row === undefined) continue;
      const cx = GRID.labelWidth + cell.column * GRID.colWidth + GRID.colWidth / 2;
      const cy = GRID.top + row * GRID.rowHeight + GRID.rowHeight / 2;
      const r = radius(cell, maxima);
      const steps = cell.step_from === cell.step_to ? `step ${cell.step_from}` : `steps ${cell.step_from}–${cell.step_to}`;
      const facts = [cell.row, steps, cell.status];
      if (cell.duration_ms !== null && cell.duration_ms !== undefined) facts.push(fmtDuration(cell.duration_ms));
      if (cell.tokens) facts.push(`${fmtCount(cell.tokens)} tok`);
      parts.push(
        svg("circle", {
          class: `trace-traj-cell trace-traj-cell--${cell.status}`,
          cx,
          cy,
          r: r.toFixed(2),
          dataset: { seq: String(cell.seq), steps: `${cell.step_from}-${cell.step_to}`, row: cell.row },
          onclick: () => highlightSeq(cell.seq, true),
        }, tooltip(facts.join(" · "))),
      );
      if (cell.duration_ms !== null && cell.duration_ms !== undefined && cell.duration_ms > state.threshold) {
        parts.push(svg("circle", { class: "trace-traj-slow-ring", cx, cy, r: (r + 3).toFixed(2), dataset: { seq: String(cell.seq) } }));
      }
    }
    holder.replaceChildren(
      svg("svg", { class: "trace-traj-grid", width, height, viewBox: `0 0 ${width} ${height}`, "data-mode": state.mode }, parts),
    );
  }

  function highlightSeq(seq, scroll) {
    state.selectedSeq = seq;
    for (const node of document.querySelectorAll(".trace-call-card--selected, .trace-event--selected")) {
      node.classList.remove("trace-call-card--selected", "trace-event--selected");
    }
    const wanted = String(seq);
    let target = Array.from(document.querySelectorAll(".trace-call-card")).find((c) => c.dataset.seq === wanted);
    if (target) target.classList.add("trace-call-card--selected");
    else {
      target = Array.from(document.querySelectorAll(".trace-event")).find((e) => e.dataset.seq === wanted);
      if (target) target.classList.add("trace-event--selected");
    }
    if (target && scroll) target.scrollIntoView({ block: "center" });
  }

  // ---- call cards --------------------------------------------------------------------------------

  function isSlow(call) {
    if (call.duration_ms === null || call.duration_ms === undefined) return Boolean(call.slow);
    return call.duration_ms > state.threshold;
  }

  function durationBar(call, longest) {
    const share = call.duration_ms && longest ? Math.max(1, (call.duration_ms / longest) * 100) : 0;
    return el("div", { class: "trace-duration-track" }, [
      el("div", {
        class: `trace-duration-bar${isSlow(call) ? " trace-duration-bar--slow" : ""}`,
        style: `width: ${share.toFixed(1)}%`,
        dataset: { durationMs: String(call.duration_ms ?? "") },
      }),
    ]);
  }

  function updateSlowBars() {
    const calls = state.detail ? [...state.detail.llm_calls, ...state.detail.tool_calls] : [];
    const bySeq = new Map(calls.map((c) => [String(c.seq), c]));
    for (const card of document.querySelectorAll(".trace-call-card")) {
      const call = bySeq.get(card.dataset.seq);
      const bar = card.querySelector(".trace-duration-bar");
      if (call && bar) bar.classList.toggle("trace-duration-bar--slow", isSlow(call));
    }
  }

  function llmCards(calls) {
    const box = el("div", { class: "trace-call-list" });
    if (!calls.length) box.append(el("p", { class: "trace-empty", text: "No LLM calls in this run." }));
    const longest = Math.max(0, ...calls.map((c) => c.duration_ms || 0));
    const most = Math.max(0, ...calls.map((c) => (c.input_tokens || 0) + (c.output_tokens || 0)));
    for (const call of calls) {
      const cached = Math.min(call.cached_tokens || 0, call.input_tokens || 0);
      const fresh = (call.input_tokens || 0) - cached;
      const share = (n) => (most ? `${((n / most) * 100).toFixed(1)}%` : "0%");
      box.append(
        el("div", { class: `trace-call-card trace-call-card--llm trace-call-card--${call.status}`, dataset: { seq: String(call.seq) } }, [
          el("div", { class: "trace-call-head" }, [
            el("strong", { text: call.actor }),
            el("span", { class: "trace-muted", text: [call.provider, call.model].filter(Boolean).join(" · ") }),
            el("span", { class: `trace-call-status trace-call-status--${call.status}`, text: call.status }),
            el("span", { class: "trace-call-duration", text: fmtDuration(call.duration_ms) }),
            el("span", { class: "trace-muted", text: `#${call.seq}` }),
          ]),
          durationBar(call, longest),
          el("div", { class: "trace-token-row" }, [
            el("div", { class: "trace-token-bar" }, [
              el("span", { class: "trace-token-segment trace-token-segment--cached", style: `width: ${share(cached)}`, title: `${cached} cached` }),
              el("span", { class: "trace-token-segment trace-token-segment--input", style: `width: ${share(fresh)}`, title: `${fresh} input (not cached)` }),
              el("span", { class: "trace-token-segment trace-token-segment--output", style: `width: ${share(call.output_tokens || 0)}`, title: `${call.output_tokens} output` }),
            ]),
            el("span", {
              class: "trace-token-text",
              text: `${fmtCount(call.input_tokens)} in / ${fmtCount(call.output_tokens)} out / ${fmtCount(call.cached_tokens)} cached`,
            }),
          ]),
        ]),
      );
    }
    return box;
  }

  function toolCards(calls) {
    const box = el("div", { class: "trace-call-list" });
    if (!calls.length) box.append(el("p", { class: "trace-empty", text: "No tool calls in this run." }));
    const longest = Math.max(0, ...calls.map((c) => c.duration_ms || 0));
    for (const call of calls) {
      box.append(
        el("div", { class: `trace-call-card trace-call-card--tool trace-call-card--${call.status}`, dataset: { seq: String(call.seq) } }, [
          el("div", { class: "trace-call-head" }, [
            el("strong", { text: call.tool }),
            el("span", { class: "trace-muted", text: `${call.row} · ${call.actor}` }),
            el("span", { class: `trace-call-status trace-call-status--${call.status}`, text: call.status }),
            el("span", { class: "trace-call-duration", text: fmtDuration(call.duration_ms) }),
            el("span", { class: "trace-muted", text: `#${call.seq}` }),
          ]),
          durationBar(call, longest),
        ]),
      );
    }
    return box;
  }

  // ---- event list --------------------------------------------------------------------------------

  function eventList(events, truncated) {
    const list = el("div", { class: "trace-event-list" });
    const count = el("span", { class: "trace-muted trace-event-count" });
    const fill = () => {
      const prefix = state.eventPrefix;
      const shown = events.filter((e) => String(e.event_type).startsWith(prefix));
      count.textContent = `${shown.length} of ${events.length} events${truncated ? " (truncated)" : ""}`;
      list.replaceChildren(...shown.map(eventRow));
    };
    const filter = el("input", {
      type: "search",
      class: "trace-event-filter",
      placeholder: "event type prefix, e.g. worker.task",
      "aria-label": "event type prefix",
      value: state.eventPrefix,
      oninput: (event) => {
        state.eventPrefix = event.target.value.trim();
        fill();
      },
    });
    fill();
    return el("div", {}, [el("div", { class: "trace-event-controls" }, [filter, count]), list]);
  }

  function eventRow(event) {
    const payload = el("pre", { class: "trace-event-payload" });
    const details = el("details", {
      ontoggle: () => {
        if (details.open && !payload.textContent) payload.textContent = JSON.stringify(event.payload, null, 2);
      },
    }, [
      el("summary", {}, [
        el("span", { class: "trace-event-seq", text: `#${event.seq}` }),
        el("span", { class: "trace-event-type", text: event.event_type }),
        el("span", { class: "trace-muted", text: event.actor }),
        el("span", { class: "trace-event-time trace-muted", text: String(event.timestamp || "").slice(11, 23) }),
        el("span", { class: "trace-event-preview", text: cut(JSON.stringify(event.payload), 140) }),
      ]),
      payload,
    ]);
    return el("div", { class: "trace-event", dataset: { seq: String(event.seq) } }, details);
  }

  // ---- job panel ---------------------------------------------------------------------------------

  function jobPanel(job) {
    let body;
    if (Array.isArray(job.findings)) body = uiJob(job);
    else if (Array.isArray(job.scenarios)) body = scenarioJob(job);
    else if (Array.isArray(job.iterations)) body = packJob(job);
    else body = el("pre", { text: JSON.stringify(job, null, 2) });
    const problems = (job.problems || []).map((p) => el("li", { text: typeof p === "string" ? p : JSON.stringify(p) }));
    return el("div", {}, [body, problems.length ? el("ul", { class: "trace-job-problems" }, problems) : null]);
  }

  function pathLink(path, label) {
    const href = fileHref(path);
    return href ? el("a", { href, text: label || path }) : el("code", { text: path });
  }

  function uiJob(job) {
    const box = el("div", { class: "trace-job trace-job--ui" });
    const links = el("div", { class: "trace-job-links" }, [
      job.report ? ["report: ", pathLink(job.report)] : null,
      ...(job.traces || []).map((trace, i) => el("span", { class: "trace-job-trace" }, ["Playwright trace: ", pathLink(trace, `trace ${i + 1}`)])),
    ].flat());
    box.append(links);
    if ((job.screenshots || []).length) {
      box.append(
        el("ul", { class: "trace-job-screenshots" }, job.screenshots.map((shot) =>
          el("li", { class: `trace-job-screenshot trace-job-screenshot--${shot.ok ? "ok" : "failed"}` }, [
            el("span", { text: `${shot.name || "capture"}: ` }),
            pathLink(shot.path),
          ]),
        )),
      );
    }
    if (!job.findings.length) box.append(el("p", { class: "trace-empty", text: "No findings." }));
    for (const finding of job.findings) {
      const shot = finding.evidence_path || finding.screenshot;
      const href = fileHref(shot);
      box.append(
        el("div", { class: `trace-finding trace-finding--${finding.severity || "info"}` }, [
          el("div", { class: "trace-finding-head" }, [
            el("span", { class: "trace-finding-severity", text: finding.severity || "" }),
            el("strong", { text: finding.title || finding.checkId || "finding" }),
            finding.locator ? el("code", { text: cut(finding.locator, 80) }) : null,
          ]),
          finding.description ? el("p", { text: finding.description }) : null,
          finding.recommendation ? el("p", { class: "trace-muted", text: finding.recommendation }) : null,
          shot
            ? el("div", { class: "trace-finding-shot" }, [
                href && /\.(png|jpe?g|webp)$/i.test(shot) ? el("img", { src: href, alt: "screenshot", loading: "lazy", onerror: (event) => event.target.remove() }) : null,
                pathLink(shot),
              ])
            : null,
        ]),
      );
    }
    return box;
  }

  function scenarioJob(job) {
    const box = el("div", { class: "trace-job trace-job--scenario" });
    for (const scenario of job.scenarios) {
      const list = el("ul", { class: "trace-trajectories" });
      for (const trajectory of scenario.trajectories) {
        list.append(
          el("li", { class: "trace-trajectory" }, [
            state.exported || !state.detail
              ? el("code", { text: trajectory.id })
              : el("a", {
                  class: "trace-trajectory-link",
                  href: `#/runs/${encodeURIComponent(state.detail.run.run_id)}/trajectories/${encodeURIComponent(trajectory.id)}`,
                  text: trajectory.id,
                }),
            el("span", {
              class: trajectory.verdict ? `trace-verdict trace-verdict--${trajectory.verdict}` : "trace-verdict",
              text: trajectory.verdict || "no verdict",
            }),
            trajectory.chaos ? el("span", { class: "trace-chaos-badge", text: "chaos" }) : null,
            trajectory.status ? el("span", { class: "trace-muted", text: trajectory.status }) : null,
            trajectory.duration_ms !== null && trajectory.duration_ms !== undefined
              ? el("span", { class: "trace-muted", text: fmtDuration(trajectory.duration_ms) })
              : null,
          ]),
        );
      }
      box.append(el("div", { class: "trace-scenario" }, [el("h3", { text: scenario.id }), list]));
    }
    return box;
  }

  function packJob(job) {
    const scores = job.iterations.map((i) => Number(i.score) || 0);
    const top = Math.max(1, ...scores);
    const chart = svg("svg", { class: "trace-pack-chart", width: 40 * Math.max(1, scores.length), height: 60 }, job.iterations.map((iteration, i) => {
      const h = ((Number(iteration.score) || 0) / top) * 44;
      return svg("g", {}, [
        svg("rect", { class: `trace-pack-bar trace-pack-bar--${iteration.status}`, x: i * 40 + 8, y: 48 - h, width: 24, height: h }),
        svg("text", { x: i * 40 + 20, y: 58, "text-anchor": "middle", text: String(iteration.n) }),
        tooltip(`iteration ${iteration.n}: ${iteration.score} (${iteration.status})`),
      ]);
    }));
    const rows = job.iterations.map((iteration) =>
      el("tr", { class: "trace-pack-iteration" }, [
        el("td", { text: String(iteration.n) }),
        el("td", { text: iteration.score === null || iteration.score === undefined ? "—" : String(iteration.score) }),
        el("td", { text: iteration.status }),
      ]),
    );
    return el("div", { class: "trace-job trace-job--pack" }, [
      chart,
      el("table", { class: "trace-pack-table" }, [el("tr", {}, [el("th", { text: "iteration" }), el("th", { text: "score" }), el("th", { text: "status" })]), ...rows]),
      el("p", { class: "trace-pack-stop" }, [
        el("strong", { text: "stopped: " }),
        job.stop_reason || "—",
        job.stop_detail ? ` (${job.stop_detail})` : "",
      ]),
    ]);
  }

  // ---- start -------------------------------------------------------------------------------------

  function start() {
    const exported = window.__ORCHESTRATE_TRACE__;
    if (exported && typeof exported === "object") {
      state.exported = true;
      state.detail = exported;
      state.detailId = exported.run && exported.run.run_id;
      document.body.classList.add("trace-exported");
      renderDetail();
      return;
    }
    window.addEventListener("hashchange", route);
    connectStream();
    route();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
