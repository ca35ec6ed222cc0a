/*
 * cxloop dashboard charts: draws uPlot charts from JSON embedded in the page.
 *
 * Markup:
 *   <div class="chart" data-chart-src="nps-data" data-height="220"></div>
 *   <script type="application/json" id="nps-data">{"kind": "band", ...}</script>
 *
 * JSON shapes (x is always unix seconds, ascending; null values are gaps):
 *   {"kind":"band","x":[...],"y":[...],"low":[...],"high":[...],
 *    "label":"NPS","yMin":-100,"yMax":100}
 *   {"kind":"bars","x":[...],"series":[{"label":"Responses","values":[...]}, ...]}
 *   {"kind":"lines","x":[...],"series":[{"label":"CSAT %","values":[...]}, ...]}
 * Optional on every kind: "yMin", "yMax" (fixed y range), "tz" (IANA zone name
 * such as "UTC" for the time axis; default is the browser's zone).
 *
 * Plain ES2017, no build step, no network, CSP-safe (no eval, no inline
 * handlers). Needs uplot.min.js loaded first. Only global: window.cxCharts.
 */
(function () {
  "use strict";

  var PALETTE = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#8a6d00", "#56b4e9"];
  var BAND_FILL = "rgba(0, 114, 178, 0.18)";
  var BAND_EDGE = "rgba(0, 114, 178, 0.45)";
  var EMPTY_TEXT = "No data for this period";
  var DAY = 86400;

  var charts = []; // {el, plot, height}

  function showMessage(el, text) {
    el.textContent = "";
    var p = document.createElement("p");
    p.className = "chart-empty";
    p.textContent = text;
    el.appendChild(p);
  }

  function num(v) {
    return typeof v === "number" && isFinite(v) ? v : null;
  }

  // Coerce to numbers-or-null, padded/trimmed to length n.
  function column(arr, n) {
    var out = new Array(n);
    var src = Array.isArray(arr) ? arr : [];
    for (var i = 0; i < n; i++) out[i] = num(src[i]);
    return out;
  }

  function hasValue(col) {
    for (var i = 0; i < col.length; i++) if (col[i] !== null) return true;
    return false;
  }

  // Keep only points with a numeric x, sorted ascending (uPlot needs that).
  function alignedData(x, cols) {
    var idx = [];
    var xs = Array.isArray(x) ? x : [];
    for (var i = 0; i < xs.length; i++) if (num(xs[i]) !== null) idx.push(i);
    idx.sort(function (a, b) { return xs[a] - xs[b]; });
    var n = xs.length;
    var full = cols.map(function (c) { return column(c, n); });
    return [idx.map(function (i) { return xs[i]; })].concat(
      full.map(function (c) { return idx.map(function (i) { return c[i]; }); })
    );
  }

  function minStep(xs) {
    var step = Infinity;
    for (var i = 1; i < xs.length; i++) {
      var d = xs[i] - xs[i - 1];
      if (d > 0 && d < step) step = d;
    }
    return step === Infinity ? DAY : step;
  }

  function xLegendFormat(xs) {
    for (var i = 0; i < xs.length; i++) {
      if ((xs[i] - xs[0]) % DAY !== 0) return "{YYYY}-{MM}-{DD} {HH}:{mm}";
    }
    return "{YYYY}-{MM}-{DD}";
  }

  function fmtValue(u, v) {
    if (v == null) return "\u2013";
    return Math.round(v * 10) / 10 + "";
  }

  function yRange(spec, includeZero) {
    var lo = num(spec.yMin);
    var hi = num(spec.yMax);
    return function (u, dmin, dmax) {
      if (dmin == null || dmax == null) { dmin = 0; dmax = 1; }
      if (includeZero) { dmin = Math.min(0, dmin); dmax = Math.max(0, dmax); }
      var r = uPlot.rangeNum(dmin, dmax, 0.1, true);
      if (includeZero && dmin >= 0) r[0] = 0;
      return [lo !== null ? lo : r[0], hi !== null ? hi : r[1]];
    };
  }

  // Grouped (side-by-side) bars: each series gets its own slot in the column.
  function groupedBars(k, n, step) {
    var group = step * 0.8;
    var w = group / n;
    return uPlot.paths.bars({
      disp: {
        x0: {
          unit: 1,
          values: function (u) {
            return u.data[0].map(function (x) { return x - group / 2 + k * w; });
          },
        },
        size: {
          unit: 1,
          values: function () { return [w * 0.9]; },
        },
      },
    });
  }

  function lastIndex(data) {
    for (var i = data[0].length - 1; i >= 0; i--) {
      for (var k = 1; k < data.length; k++) {
        if (data[k][i] != null) return i;
      }
    }
    return null;
  }

  function restLegend(u) {
    if (u.cursor.idx == null) {
      var idx = lastIndex(u.data);
      if (idx != null) u.setLegend({ idx: idx });
    }
  }

  function buildOptions(spec, data, width, height) {
    var xs = data[0];
    var kind = spec.kind;
    var series = [{ value: xLegendFormat(xs) }];
    var opts = {
      width: width,
      height: height,
      series: series,
      scales: { x: { time: true }, y: {} },
      axes: [{}, { size: 48 }],
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      // Away from the cursor (and always on a phone) the legend shows the latest point, not "--".
      hooks: { ready: [restLegend], setCursor: [restLegend] },
    };
    if (typeof spec.tz === "string" && spec.tz) {
      opts.tzDate = function (ts) { return uPlot.tzDate(new Date(ts * 1e3), spec.tz); };
    }

    if (kind === "band") {
      var label = String(spec.label || "Value");
      series.push(
        { label: label, stroke: PALETTE[0], width: 2, value: fmtValue },
        { label: "95% low", stroke: BAND_EDGE, width: 1, value: fmtValue, points: { show: false } },
        { label: "95% high", stroke: BAND_EDGE, width: 1, value: fmtValue, points: { show: false } }
      );
      // Fill from the "high" series (3) down to the "low" series (2).
      opts.bands = [{ series: [3, 2], fill: BAND_FILL }];
      opts.scales.y.range = yRange(spec, false);
    } else {
      var list = spec.series;
      var step = minStep(xs);
      list.forEach(function (s, k) {
        var color = PALETTE[k % PALETTE.length];
        var cfg = {
          label: String((s && s.label) || "Series " + (k + 1)),
          stroke: color,
          width: 2,
          value: fmtValue,
        };
        if (kind === "bars") {
          cfg.fill = color;
          cfg.width = 0;
          cfg.points = { show: false };
          cfg.paths = groupedBars(k, list.length, step);
        }
        series.push(cfg);
      });
      opts.scales.y.range = yRange(spec, kind === "bars");
      if (kind === "bars") {
        opts.cursor.points = { show: false };
        // Pad the x range so the first and last columns are not cut in half.
        opts.scales.x.range = function (u, min, max) {
          return [min - step / 2, max + step / 2];
        };
      }
    }
    return opts;
  }

  function specColumns(spec) {
    if (!spec || typeof spec !== "object") return null;
    if (spec.kind === "band") return [spec.y, spec.low, spec.high];
    if ((spec.kind === "bars" || spec.kind === "lines") && Array.isArray(spec.series)) {
      return spec.series.map(function (s) { return s && s.values; });
    }
    return null;
  }

  function contentWidth(el) {
    var cs = window.getComputedStyle(el);
    var w = el.clientWidth - (parseFloat(cs.paddingLeft) || 0) - (parseFloat(cs.paddingRight) || 0);
    return Math.max(120, Math.floor(w || 300));
  }

  function forget(el) {
    charts = charts.filter(function (c) {
      if (c.el !== el) return true;
      c.plot.destroy();
      return false;
    });
  }

  function drawOne(el) {
    forget(el);
    el.textContent = "";
    var id = el.getAttribute("data-chart-src");
    var node = id ? document.getElementById(id) : null;
    var spec = null;
    try {
      spec = node ? JSON.parse(node.textContent) : null;
    } catch (e) {
      spec = null;
    }
    var cols = specColumns(spec);
    if (!cols) {
      showMessage(el, EMPTY_TEXT);
      return;
    }
    var data = alignedData(spec.x, cols);
    if (data[0].length === 0 || !data.slice(1).some(hasValue)) {
      showMessage(el, EMPTY_TEXT);
      return;
    }
    if (typeof uPlot === "undefined") {
      showMessage(el, "Chart library not loaded");
      return;
    }
    var height = parseInt(el.getAttribute("data-height"), 10);
    if (!(height > 0)) height = 220;
    try {
      var plot = new uPlot(buildOptions(spec, data, contentWidth(el), height), data, el);
      charts.push({ el: el, plot: plot, height: height });
    } catch (e) {
      el.textContent = "";
      showMessage(el, EMPTY_TEXT);
    }
  }

  function draw(target) {
    var els;
    if (target && target.nodeType === 1) els = [target];
    else els = document.querySelectorAll(".chart[data-chart-src]");
    for (var i = 0; i < els.length; i++) drawOne(els[i]);
  }

  var timer = null;
  function onResize() {
    if (timer) clearTimeout(timer);
    timer = setTimeout(function () {
      timer = null;
      charts = charts.filter(function (c) {
        if (!document.body.contains(c.el)) {
          c.plot.destroy();
          return false;
        }
        // Let the container shrink first, then measure it.
        c.plot.root.style.display = "none";
        var w = contentWidth(c.el);
        c.plot.root.style.display = "";
        c.plot.setSize({ width: w, height: c.height });
        return true;
      });
    }, 150);
  }

  window.cxCharts = { draw: draw };

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { draw(); });
  } else {
    draw();
  }
  window.addEventListener("resize", onResize);
})();
