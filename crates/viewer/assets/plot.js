// plotstream live plot: one snapshot, then updates, drawn at most once per
// animation frame. Everything that arrives within a frame is merged and drawn
// with one restyle per overwritten trace, one extendTraces per set of appended
// attributes, and one relayout.
(function () {
  "use strict";
  const figureId = document.currentScript.dataset.figure;
  // The page loads plotly.js deferred, so that the event stream opens (and
  // the snapshot arrives) while the browser evaluates it: drawing waits for
  // the document, by when the deferred script has run.
  const bundle = document.currentScript.dataset.bundle;
  const BASIC_TYPES = ["scatter", "bar", "pie"];
  const gd = document.getElementById("plot");
  const status = document.getElementById("status");
  let maxpoints = [];
  let pending;
  let frameRequested = false;
  let updates = 0;
  // Points the viewer dropped from this figure to stay within its memory
  // budget (its `dropped`): said in the status, never silently.
  let dropped = 0;
  // Paused: the view is frozen while updates keep being gathered; `unseen`
  // counts the points that arrived since (drawn on resume).
  let paused = false;
  let unseen = 0;
  // The x window: "all", or the last this many seconds of x.
  let windowSeconds = null;
  // How many streams feed the figure (the viewer's `streams` events), and
  // whether the event stream is up.
  let streams = null;
  let connection = "connecting";
  let drawn = false;
  let drawing = new Promise((ready) => {
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
    else ready();
  });

  function resetPending() {
    pending = { snapshot: null, traces: new Map(), layout: null };
  }
  resetPending();

  function pointsHeld() {
    let n = 0;
    for (const t of gd.data || []) {
      const col = t.x || t.y;
      if (col && col.length) n += col.length;
    }
    return n;
  }

  // live: streams are feeding it; idle: none is connected (nothing new
  // until one is); connecting, reconnecting: the event stream is not up.
  function showStatus(error) {
    const n = pointsHeld();
    let state = connection;
    let words = connection === "connecting" ? "connecting…" : connection;
    if (error) {
      state = "error";
      words = "error: " + error;
    } else if (connection === "open" && drawn) {
      state = streams > 0 ? "live" : "idle";
      words = streams > 0 ? "live · " + streams + (streams === 1 ? " stream" : " streams") : "idle: no stream connected";
    }
    status.dataset.state = state;
    status.dataset.streams = String(streams === null ? "" : streams);
    status.dataset.points = String(n);
    status.dataset.updates = String(updates);
    status.dataset.dropped = String(dropped);
    status.dataset.paused = String(paused);
    status.dataset.unseen = String(unseen);
    if (paused) words = "paused · " + unseen.toLocaleString("en-US") + " new points";
    status.textContent =
      words + " · " + n + " points held · " + updates + " updates" +
      (dropped > 0 ? " · " + dropped + " points dropped to stay within memory" : "");
  }

  function schedule() {
    if (!frameRequested) {
      frameRequested = true;
      requestAnimationFrame(flush);
    }
  }

  function onSnapshot(fig) {
    // A figure made again with a trace type the basic bundle cannot draw:
    // the page, asked again, names the full bundle.
    const needsFull = (fig.data || []).some((t) => !BASIC_TYPES.includes(t.type || "scatter"));
    if (bundle === "basic" && needsFull) {
      location.reload();
      return;
    }
    resetPending(); // the snapshot holds everything sent before it
    pending.snapshot = fig;
    dropped = fig.dropped || 0;
    schedule();
  }

  function onUpdate(u) {
    for (const t of u.traces) {
      let e = pending.traces.get(t.index);
      if (!e) {
        e = { over: {}, app: {}, keep: null };
        pending.traces.set(t.index, e);
      }
      // The viewer keeps fewer points than maxpoints (its memory budget).
      if (t.keep != null) e.keep = t.keep;
      for (const [path, values] of Object.entries(t.overwrite || {})) {
        e.over[path] = values;
        delete e.app[path]; // appends before an overwrite are overwritten
      }
      for (const [path, values] of Object.entries(t.append || {})) {
        const a = e.app[path];
        if (a) for (const v of values) a.push(v);
        else e.app[path] = values.slice();
        // Gathered while paused, at most what the trace keeps.
        const max = maxpoints[t.index] || 500;
        if (e.app[path].length > 2 * max) e.app[path].splice(0, e.app[path].length - max);
      }
      if (paused) unseen += ((t.append || {}).x || (t.append || {}).y || []).length;
    }
    if (u.layout) pending.layout = Object.assign(pending.layout || {}, u.layout);
    if (u.dropped) dropped = u.dropped;
    updates++;
    schedule();
  }

  function flush() {
    frameRequested = false;
    if (paused) {
      showStatus();
      return; // gathered, drawn on resume
    }
    const p = pending;
    resetPending();
    drawing = drawing
      .then(() => draw(p))
      .then(() => {
        drawn = true;
        showStatus();
      }, (e) => {
        console.error(e);
        showStatus(e.message);
      });
  }

  function arrayAt(trace, path) {
    let v = trace;
    for (const k of path.split(".")) {
      if (v == null) return false;
      v = v[k];
    }
    return Array.isArray(v) || ArrayBuffer.isView(v);
  }

  async function draw(p) {
    if (p.snapshot) {
      const fig = p.snapshot;
      maxpoints = fig.data.map((t) => (t.stream && t.stream.maxpoints) || 500);
      await Plotly.react(gd, fig.data, fig.layout || {}, { responsive: true });
      // Time to first plot, from the navigation's start (for the tests).
      if (!status.dataset.firstPlotMs) status.dataset.firstPlotMs = String(Math.round(performance.now()));
    }
    // Overwrites first, traces overwriting the same attributes in one
    // restyle (each redraws the whole plot: one per trace froze a page of
    // 100 traces for seconds).
    const restyles = new Map();
    for (const [index, e] of p.traces) {
      const over = {};
      for (const [path, values] of Object.entries(e.over)) over[path] = values;
      // extendTraces needs an array to extend: make missing ones empty.
      for (const path of Object.keys(e.app)) {
        if (!(path in over) && !arrayAt(gd.data[index], path)) over[path] = [];
      }
      const keys = Object.keys(over).sort();
      if (!keys.length) continue;
      const signature = keys.join("\u0000");
      let g = restyles.get(signature);
      if (!g) {
        g = { indices: [], update: {} };
        for (const k of keys) g.update[k] = [];
        restyles.set(signature, g);
      }
      g.indices.push(index);
      for (const k of keys) g.update[k].push(over[k]);
    }
    for (const g of restyles.values()) await Plotly.restyle(gd, g.update, g.indices);
    // Appends: traces appending the same attributes share one call.
    const groups = new Map();
    for (const [index, e] of p.traces) {
      const keys = Object.keys(e.app).sort();
      if (!keys.length) continue;
      const signature = keys.join("\u0000");
      let g = groups.get(signature);
      if (!g) {
        g = { indices: [], update: {}, max: {} };
        for (const k of keys) {
          g.update[k] = [];
          g.max[k] = [];
        }
        groups.set(signature, g);
      }
      g.indices.push(index);
      for (const k of keys) {
        g.update[k].push(e.app[k]);
        g.max[k].push(Math.min(maxpoints[index] || 500, e.keep == null ? Infinity : e.keep));
      }
    }
    for (const g of groups.values()) await Plotly.extendTraces(gd, g.update, g.indices, g.max);
    // Traces the viewer trimmed to stay within memory: keep what it keeps.
    for (const [index, e] of p.traces) if (e.keep != null) await trim(index, e.keep);
    if (p.layout) await Plotly.relayout(gd, p.layout);
    if (windowSeconds !== null) await applyWindow();
  }

  // The last `windowSeconds` of x, when x is time (dates) or numbers.
  async function applyWindow() {
    let last = -Infinity;
    let dates = false;
    for (const t of gd.data || []) {
      const x = t.x;
      if (!x || !x.length) continue;
      const v = x[x.length - 1];
      const n = typeof v === "number" ? v : Date.parse(v);
      if (typeof v !== "number") dates = true;
      if (Number.isFinite(n)) last = Math.max(last, n);
    }
    if (!Number.isFinite(last)) return;
    const span = dates ? windowSeconds * 1000 : windowSeconds;
    const from = dates ? new Date(last - span).toISOString() : last - span;
    const to = dates ? new Date(last).toISOString() : last;
    await Plotly.relayout(gd, { "xaxis.range": [from, to] });
  }

  function pause(on) {
    paused = on;
    if (!on) {
      unseen = 0;
      schedule(); // catch up: everything gathered meanwhile, drawn at once
    }
    const button = document.getElementById("pause");
    if (button) button.textContent = on ? "resume" : "pause";
    showStatus();
  }

  function controls() {
    const bar = document.getElementById("controls");
    if (!bar) return;
    bar.querySelector("#pause").addEventListener("click", () => pause(!paused));
    document.addEventListener("keydown", (e) => {
      if (e.code === "Space" && e.target === document.body) {
        e.preventDefault();
        pause(!paused);
      }
    });
    bar.querySelector("#window").addEventListener("change", async (e) => {
      const v = e.target.value;
      windowSeconds = v === "all" ? null : Number(v);
      if (windowSeconds === null) await Plotly.relayout(gd, { "xaxis.autorange": true });
      else await applyWindow();
    });
    bar.querySelector("#png").addEventListener("click", () =>
      Plotly.downloadImage(gd, { format: "png", filename: "figure-" + figureId }),
    );
  }

  // Keeps the last `keep` values of each array of trace `index` (its own
  // attributes and those one level down, such as marker.color).
  async function trim(index, keep) {
    const t = gd.data[index];
    if (!t) return;
    const over = {};
    const cut = (path, v) => {
      if ((Array.isArray(v) || ArrayBuffer.isView(v)) && v.length > keep) over[path] = [Array.from(v).slice(-keep)];
    };
    for (const [k, v] of Object.entries(t)) {
      if (v && typeof v === "object" && !Array.isArray(v) && !ArrayBuffer.isView(v)) {
        for (const [k2, v2] of Object.entries(v)) cut(k + "." + k2, v2);
      } else cut(k, v);
    }
    if (Object.keys(over).length) await Plotly.restyle(gd, over, [index]);
  }

  function connect() {
    const events = new EventSource("/plot/" + figureId + "/events");
    events.addEventListener("snapshot", (m) => onSnapshot(JSON.parse(m.data)));
    events.addEventListener("update", (m) => onUpdate(JSON.parse(m.data)));
    events.addEventListener("streams", (m) => {
      streams = JSON.parse(m.data).connected;
      showStatus();
    });
    events.onopen = () => {
      connection = "open";
      showStatus();
    };
    events.onerror = () => {
      connection = "reconnecting";
      showStatus();
    };
  }

  connect();
  drawing.then(controls);
})();
