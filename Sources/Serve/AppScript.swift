/// app.js: the pages' one script. On a run's page it polls `/api/runs/ID/metrics?since_step=N&wait=10`
/// (an answer comes as soon as the run has recorded more, or after 10 s) and `/grad_norms` while the run is live, keeps every point, and redraws the charts
/// (the same drawing as SVGChart.swift, built with DOM calls, so no text is ever parsed as HTML);
/// on the runs page it refreshes the rows of live runs from `/api/runs` every 5 s; on a search's page it long-polls
/// `/api/searches/ID/changes` and swaps in the fresh table and charts when a trial changes.
enum AppScript {
    static let source = #"""
    "use strict";
    (function () {
      const palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"];
      const W = 480, H = 280, M = { left: 60, right: 14, top: 30, bottom: 42 }, MAX_POINTS = 800;
      const SVG = "http://www.w3.org/2000/svg";

      // NiceScale.swift: ticks at 1, 2 or 5 x 10^k (powers of ten on a log scale); the ends are ticks.
      function nice(x) {
        if (!(x > 0) || !isFinite(x)) return 1;
        const e = Math.floor(Math.log10(x)), p = Math.pow(10, e), f = x / p, s = 1e-9;
        return (f <= 1 + s ? 1 : f <= 2 + s ? 2 : f <= 5 + s ? 5 : 10) * p;
      }
      function niceScale(min, max, count, log, integral) {
        let a = Math.min(min, max), b = Math.max(min, max);
        if (log) {
          a = Math.log10(Math.max(a, 1e-300)); b = Math.log10(Math.max(b, 1e-300));
          let lo = Math.floor(a), hi = Math.ceil(b);
          if (hi === lo) hi += 1;
          const every = Math.max(1, Math.ceil((hi - lo) / Math.max(count - 1, 1)));
          lo = Math.floor(lo / every) * every; hi = Math.ceil(hi / every) * every;
          const ticks = [];
          for (let t = lo; t <= hi + every / 2; t += every) ticks.push(t);
          return { low: lo, high: hi, ticks: ticks, log: true, step: every };
        }
        if (!isFinite(a) || !isFinite(b)) { a = 0; b = 1; }
        if (a === b) { const pad = a === 0 || integral ? 1 : Math.abs(a) * 0.05; a -= pad; b += pad; }
        const step = Math.max(integral ? 1 : 0, nice((b - a) / Math.max(count - 1, 1)));
        const first = Math.floor(a / step), last = Math.ceil(b / step), ticks = [];
        for (let k = first; k <= last; k++) ticks.push(k * step);
        return { low: first * step, high: last * step, ticks: ticks, log: false, step: step };
      }
      function plain(v, decimals) {
        const t = v.toFixed(decimals);
        return /^-0(\.0*)?$/.test(t) ? t.slice(1) : t;
      }
      function tickLabel(scale, t) {
        if (scale.log) {
          const e = Math.round(t);
          return e >= -4 && e <= 5 ? plain(Math.pow(10, e), Math.max(0, -e)) : "1e" + e;
        }
        if (t === 0) return "0";
        const magnitude = Math.max(Math.abs(scale.low), Math.abs(scale.high));
        if (scale.step < 1e-4 || magnitude >= 1e7) {
          let digits = 0;
          while (digits < 6 && Math.abs(Number(t.toExponential(digits)) - t) > scale.step * 1e-6) digits++;
          return t.toExponential(digits).replace(/e([+-])(\d)$/, "e$10$2");
        }
        return plain(t, Math.max(0, Math.ceil(-Math.log10(scale.step) - 1e-9)));
      }
      function position(scale, v) {
        const x = scale.log ? Math.log10(Math.max(v, 1e-300)) : v;
        return scale.high > scale.low ? (x - scale.low) / (scale.high - scale.low) : 0.5;
      }
      function smoothed(values, weight) {
        if (!(weight > 0)) return values;
        let average = 0, correction = 1;
        return values.map(function (v) { average = average * weight + (1 - weight) * v; correction *= weight; return average / (1 - correction); });
      }
      function thinned(points, limit) {
        if (points.length <= limit || limit < 2) return points;
        const stride = (points.length - 1) / (limit - 1), out = [];
        for (let i = 0; i < limit; i++) out.push(points[Math.round(i * stride)]);
        return out;
      }
      function coordinate(v) { return (Math.round(v * 10) / 10).toFixed(1); }
      function element(name, attributes, text) {
        const node = document.createElementNS(SVG, name);
        for (const key in attributes) node.setAttribute(key, attributes[key]);
        if (text !== undefined) node.textContent = text;
        return node;
      }

      // SVGChart.swift's render, into `figure` (its svg and legend replaced).
      function drawChart(figure, title, xLabel, series, log, smoothing) {
        const usable = function (ps) { return ps.filter(function (p) { return isFinite(p[0]) && isFinite(p[1]) && (!log || p[1] > 0); }); };
        const svg = element("svg", { xmlns: SVG, viewBox: "0 0 " + W + " " + H, width: W, height: H, role: "img", "aria-label": title });
        svg.appendChild(element("text", { class: "title", x: M.left, y: 18 }, title + (log ? " (log scale)" : "")));
        const all = [].concat.apply([], series.map(function (s) { return usable(s.points); }));
        const caption = document.createElement("figcaption");
        if (all.length === 0) {
          svg.appendChild(element("text", { class: "empty", x: W / 2, y: H / 2, "text-anchor": "middle" }, "no data yet"));
        } else {
          let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
          for (const p of all) { minX = Math.min(minX, p[0]); maxX = Math.max(maxX, p[0]); minY = Math.min(minY, p[1]); maxY = Math.max(maxY, p[1]); }
          const xs = niceScale(minX, maxX, 6, false, true), ys = niceScale(minY, maxY, 5, log, false);
          const pw = W - M.left - M.right, ph = H - M.top - M.bottom;
          const px = function (x) { return M.left + position(xs, x) * pw; };
          const py = function (y) { return H - M.bottom - position(ys, y) * ph; };
          const gy = element("g", { class: "axis y" });
          for (const t of ys.ticks) {
            const y = H - M.bottom - (t - ys.low) / (ys.high - ys.low) * ph;
            gy.appendChild(element("line", { x1: M.left, x2: W - M.right, y1: coordinate(y), y2: coordinate(y) }));
            gy.appendChild(element("text", { x: M.left - 5, y: coordinate(y + 4), "text-anchor": "end" }, tickLabel(ys, t)));
          }
          svg.appendChild(gy);
          const gx = element("g", { class: "axis x" });
          for (const t of xs.ticks) {
            const x = M.left + (t - xs.low) / (xs.high - xs.low) * pw;
            gx.appendChild(element("line", { x1: coordinate(x), x2: coordinate(x), y1: M.top, y2: H - M.bottom }));
            gx.appendChild(element("text", { x: coordinate(x), y: H - M.bottom + 15, "text-anchor": "middle" }, tickLabel(xs, t)));
          }
          gx.appendChild(element("text", { class: "label", x: Math.floor(M.left + pw / 2), y: H - 6, "text-anchor": "middle" }, xLabel));
          svg.appendChild(gx);
          series.forEach(function (s, i) {
            const color = palette[i % palette.length], points = usable(s.points);
            if (points.length === 0) return;
            const line = function (ps, raw) {
              const drawn = thinned(ps, MAX_POINTS);
              svg.appendChild(element("polyline", { class: "series" + (raw ? " raw" : ""), "data-series": s.name, "data-points": drawn.length,
                points: drawn.map(function (p) { return coordinate(px(p[0])) + "," + coordinate(py(p[1])); }).join(" "), fill: "none", stroke: color }));
            };
            if (smoothing > 0 && points.length > 2) {
              const average = smoothed(points.map(function (p) { return log ? Math.log10(p[1]) : p[1]; }), smoothing);
              line(points, true);
              line(points.map(function (p, k) { return [p[0], log ? Math.pow(10, average[k]) : average[k]]; }), false);
            } else {
              line(points, false);
            }
            if (points.length === 1) svg.appendChild(element("circle", { cx: coordinate(px(points[0][0])), cy: coordinate(py(points[0][1])), r: 2.5, fill: color }));
          });
        }
        series.forEach(function (s, i) {
          const key = document.createElement("span");
          key.className = "key";
          const swatch = element("svg", { width: 10, height: 10 });
          swatch.appendChild(element("rect", { width: 10, height: 10, fill: palette[i % palette.length] }));
          key.appendChild(swatch);
          key.appendChild(document.createTextNode(" " + s.name));
          caption.appendChild(key);
          caption.appendChild(document.createTextNode(" "));
        });
        figure.replaceChildren(svg, caption);
      }

      function legend(name) { return name.endsWith("_epoch") ? name.slice(0, -6) : name; }
      function perEpoch(name) { return name.endsWith("_epoch") || name.startsWith("test_") || name.startsWith("validation_") || name === "images_per_second"; }

      // A run's page: every point the API gave, redrawn as more arrive.
      function runPage(root) {
        const id = root.dataset.run;
        const metrics = {}, norms = {};
        let sinceMetrics = -1, sinceNorms = -1, loaded = false;
        const smoothingControl = document.getElementById("smoothing");
        const first = root.querySelector('figure[data-chart="train_loss"] polyline.series:not(.raw)');
        root.dataset.drawn = first ? first.dataset.points : "0";     // as the server drew it

        // `wait`: the first request may wait that many seconds for rows (long polling).
        async function fetchAll(kind, since, wait) {
          let answer, rows = [];
          do {
            const url = "/api/runs/" + encodeURIComponent(id) + "/" + kind + "?since_step=" + since + (wait ? "&wait=" + wait : "");
            wait = 0;
            const response = await fetch(url, { cache: "no-store" });
            answer = await response.json();
            if (!response.ok) throw new Error(answer.error || response.status);
            rows = rows.concat(answer.rows);
            since = answer.last_step;
          } while (answer.truncated);
          return { rows: rows, last: since, answer: answer };
        }
        function smoothingFor(figure) {
          const base = parseFloat(figure.dataset.smoothing || "0");
          if (!(base > 0) || !smoothingControl) return base;
          return parseFloat(smoothingControl.value);
        }
        function redraw() {
          for (const figure of root.querySelectorAll("figure[data-chart]")) {
            if (figure.dataset.chart === "grad") continue;
            const names = figure.dataset.names.split(",");
            const series = names.filter(function (n) { return metrics[n]; }).map(function (n) { return { name: legend(n), points: metrics[n] }; });
            drawChart(figure, figure.dataset.title, figure.dataset.x, series, false, smoothingFor(figure));
          }
          const grid = document.getElementById("grad-charts");
          if (!grid) return;
          const layers = {};
          for (const key of Object.keys(norms)) { const n = norms[key]; (layers[n.layer] = layers[n.layer] || []).push(n); }
          for (const layer of Object.keys(layers).sort(function (a, b) { return Number(a) - Number(b); })) {
            let figure = grid.querySelector('figure[data-layer="' + CSS.escape(layer) + '"]');
            if (!figure) {
              figure = document.createElement("figure");
              figure.className = "chart";
              figure.dataset.chart = "grad"; figure.dataset.layer = layer; figure.dataset.smoothing = "0.6";
              figure.dataset.title = "layer " + layer + " \u2016\u2207\u2016\u2082";
              grid.appendChild(figure);
            }
            const series = layers[layer].sort(function (a, b) { return a.name < b.name ? 1 : a.name > b.name ? -1 : 0; })
              .map(function (n) { return { name: n.name, points: n.points }; });
            drawChart(figure, figure.dataset.title, "step", series, true, smoothingFor(figure));
          }
          const empty = document.getElementById("grad-empty");
          if (empty && Object.keys(norms).length > 0) empty.remove();
        }
        function showState(state) {
          const status = document.getElementById("run-status");
          if (status) {
            const badge = document.createElement("span");
            const kind = state.status === "running" ? "live" : String(state.status).startsWith("stale") ? "stale" : String(state.status).replace(/[^a-z]/g, "");
            badge.className = "status " + kind;
            badge.textContent = state.status === "running" ? "\u25cf running" : state.status;
            status.replaceChildren(badge);
          }
          const progress = document.getElementById("run-progress");
          if (progress) progress.textContent = "epoch " + state.epochs_done + " of " + state.epochs_planned + ", step " + state.steps_done + ".";
        }
        async function update() {
          const m = await fetchAll("metrics", sinceMetrics, loaded ? 10 : 0);
          for (const row of m.rows) (metrics[row.name] = metrics[row.name] || []).push([perEpoch(row.name) ? row.epoch : row.step, row.value]);
          sinceMetrics = m.last;
          const g = await fetchAll("grad_norms", sinceNorms);
          for (const row of g.rows) {
            const key = row.layer + " " + row.layer_kind + "." + row.tensor;
            (norms[key] = norms[key] || { layer: String(row.layer), name: key, points: [] }).points.push([row.step, row.l2]);
          }
          sinceNorms = g.last;
          loaded = true;
          redraw();
          // What the browser test reads: the points drawn on the training-loss chart after each
          // poll, in this one page load.
          const drawn = root.querySelector('figure[data-chart="train_loss"] polyline.series:not(.raw)');
          root.dataset.drawn = (root.dataset.drawn ? root.dataset.drawn + "," : "") + (drawn ? drawn.dataset.points : 0);
          showState(m.answer);
          root.dataset.polls = String(Number(root.dataset.polls || "0") + 1);
          return m.answer.live;
        }
        async function poll() {
          let live = true;
          try { live = await update(); } catch (error) { root.dataset.pollError = String(error); }
          if (live) setTimeout(poll, 1000); else root.dataset.live = "false";
        }
        if (smoothingControl) smoothingControl.addEventListener("change", function () { if (loaded) redraw(); else update(); });
        if (root.dataset.live === "true") poll();
      }

      // The runs page: rows of live runs refreshed in place (status, epochs, losses, accuracy).
      function runsPage(table) {
        async function refresh() {
          if (!table.querySelector("tr.live")) return;
          try {
            const response = await fetch("/api/runs" + location.search.replace(/([?&])(sort|order)=[^&]*/g, "$1"), { cache: "no-store" });
            if (!response.ok) return;
            const runs = await response.json();
            table.dataset.refreshes = String(Number(table.dataset.refreshes || "0") + 1);
            const columns = Array.from(table.tHead.rows[0].cells).map(function (c) { return c.textContent.replace(/ [\u25b2\u25bc]$/, ""); });
            for (const run of runs) {
              const row = table.querySelector('tr[data-run="' + CSS.escape(String(run.run)) + '"]');
              if (!row) continue;
              columns.forEach(function (name, c) {
                if (c < 2 || !(name in run)) return;
                const value = run[name];
                if (name === "status") {
                  row.classList.toggle("live", value === "running");
                  const badge = row.cells[c].querySelector(".status");
                  if (badge) { badge.textContent = value === "running" ? "\u25cf running" : value; badge.className = "status " + (value === "running" ? "live" : String(value).startsWith("stale") ? "stale" : String(value).replace(/[^a-z]/g, "")); }
                } else if (name === "epochs") {
                  const cell = row.cells[c], planned = cell.textContent.split("/")[1];
                  cell.textContent = value + "/" + planned;
                } else if (typeof value === "number" && row.cells[c].classList.contains("num") && /loss|acc/.test(name)) {
                  row.cells[c].textContent = value.toFixed(4);
                }
              });
            }
          } finally {
            setTimeout(refresh, 5000);
          }
        }
        setTimeout(refresh, 5000);
      }

      // A search's page: long-polls the search's signature and, when it changes, swaps in the
      // table and charts of the page as the server renders it now. DOMParser's document is inert
      // (no script runs, nothing loads) and the server escaped every name in it, as on a first load.
      function searchPage(root) {
        const id = root.dataset.search;
        let signature = root.dataset.signature;
        async function poll() {
          let live = true;
          try {
            const url = "/api/searches/" + encodeURIComponent(id) + "/changes?signature=" + encodeURIComponent(signature) + "&wait=10";
            const response = await fetch(url, { cache: "no-store" });
            const answer = await response.json();
            if (!response.ok) throw new Error(answer.error || response.status);
            live = answer.live;
            if (answer.signature !== signature) {
              const page = await fetch("/searches/" + encodeURIComponent(id), { cache: "no-store" });
              if (!page.ok) throw new Error("the page answered " + page.status);
              const fresh = new DOMParser().parseFromString(await page.text(), "text/html").getElementById("search");
              if (fresh) {
                root.replaceChildren.apply(root, Array.from(fresh.childNodes).map(function (node) { return document.importNode(node, true); }));
                signature = fresh.dataset.signature;
                root.dataset.signature = signature;
                live = fresh.dataset.live === "true";
                root.dataset.refreshes = String(Number(root.dataset.refreshes || "0") + 1);
              }
            }
          } catch (error) {
            root.dataset.pollError = String(error);
          }
          root.dataset.polls = String(Number(root.dataset.polls || "0") + 1);
          if (live) setTimeout(poll, 1000); else root.dataset.live = "false";
        }
        if (root.dataset.live === "true") poll();
      }

      document.addEventListener("DOMContentLoaded", function () {
        const search = document.getElementById("search");
        if (search) searchPage(search);
        const run = document.getElementById("run");
        if (run) runPage(run);
        const runs = document.getElementById("runs");
        if (runs) runsPage(runs);
      });
    })();
    """#
}
