/* The fan-out page (/timeline/fanout): every few seconds, ask /timeline/fanout.json for the
   figures and redraw them: the counters, the two bar charts and the tables. The server draws
   the first picture (core/templatetags/charts.py); `barChart` below draws the same markup, the
   same geometry and the same hidden data table, so charts.css styles both. Plain JS, no build
   step, no library. */
(function () {
  "use strict";

  var root = document.getElementById("fanout");
  if (!root) return;

  var delay = Number(root.dataset.pollSeconds || 2) * 1000;
  var SVG_NS = "http://www.w3.org/2000/svg";
  // As core/templatetags/charts.py.
  var VIEW_HEIGHT = 100;
  var SLOT_WIDTH = 10;
  var BAR_RATIO = 0.72;
  var ZERO_STUB = 0.8;
  var MAX_TICKS = 4;
  var MAX_X_LABELS = 5;

  function esc(value) {
    return String(value).replace(/[&<>"']/g, function (ch) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;" }[ch];
    });
  }

  function clean(number) {
    return Math.round(number * 1000) / 1000;
  }

  function number(value) {
    return Number.isInteger(value)
      ? value.toLocaleString("en")
      : value.toLocaleString("en", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  }

  function axisTicks(maximum) {
    if (maximum <= 0) return [0, 1];
    var rough = maximum / MAX_TICKS;
    var magnitude = Math.pow(10, Math.floor(Math.log10(rough)));
    var step = [1, 2, 5, 10].map(function (m) { return m * magnitude; }).filter(function (s) { return s >= rough; })[0];
    if (maximum === Math.floor(maximum)) step = Math.max(step, 1);
    var count = Math.ceil(maximum / step - 1e-9);
    var ticks = [];
    for (var i = 0; i <= count; i++) ticks.push(clean(step * i));
    return ticks;
  }

  function xLabelIndexes(count) {
    var out = [];
    if (count <= MAX_X_LABELS) {
      for (var i = 0; i < count; i++) out.push(i);
      return out;
    }
    var step = (count - 1) / (MAX_X_LABELS - 1);
    for (var k = 0; k < MAX_X_LABELS; k++) {
      var index = Math.round(k * step);
      if (out.indexOf(index) === -1) out.push(index);
    }
    return out;
  }

  // points: [[label, value], ...]. Replaces the <figure id=chartId>'s content.
  function barChart(container, points, options) {
    var id = options.id;
    if (!points.length) {
      container.innerHTML = '<figure class="chart chart-empty" id="' + esc(id) + '"><p class="chart-empty-note">No data yet.</p></figure>';
      return;
    }
    var ticks = axisTicks(Math.max.apply(null, points.map(function (p) { return p[1]; })));
    var top = ticks[ticks.length - 1];
    var gap = (SLOT_WIDTH * (1 - BAR_RATIO)) / 2;
    var width = clean(points.length * SLOT_WIDTH);
    var total = 0;
    var peak = points[0];
    var rects = points.map(function (p, i) {
      total += p[1];
      if (p[1] > peak[1]) peak = p;
      var height = p[1] > 0 ? (VIEW_HEIGHT * p[1]) / top : ZERO_STUB;
      return '<rect class="chart-bar' + (p[1] === 0 ? " chart-bar-zero" : "") + '" x="' + clean(i * SLOT_WIDTH + gap) +
        '" y="' + clean(VIEW_HEIGHT - height) + '" width="' + clean(SLOT_WIDTH * BAR_RATIO) + '" height="' + clean(height) +
        '"><title>' + esc(p[0]) + ": " + esc(number(p[1])) + "</title></rect>";
    }).join("");
    var summary = total === 0
      ? options.title + ": none."
      : options.title + ": " + number(total) + " in total, most on " + peak[0] + " (" + number(peak[1]) + ").";
    var grid = ticks.map(function (t) {
      var y = clean(VIEW_HEIGHT * (1 - t / top));
      return '<line class="chart-gridline' + (t === 0 ? " chart-baseline" : "") + '" x1="0" x2="' + width + '" y1="' + y +
        '" y2="' + y + '" vector-effect="non-scaling-stroke"/>';
    }).join("");
    var yLabels = ticks.map(function (t) {
      return '<span class="chart-y-label" style="bottom: ' + clean((100 * t) / top) + '%">' + esc(number(t)) + "</span>";
    }).join("");
    var xLabels = xLabelIndexes(points.length).map(function (i) {
      return '<span class="chart-x-label" style="left: ' + clean((100 * (i + 0.5)) / points.length) + '%">' + esc(points[i][0]) + "</span>";
    }).join("");
    var rows = points.map(function (p) {
      return '<tr><th scope="row">' + esc(p[0]) + "</th><td>" + esc(number(p[1])) + "</td></tr>";
    }).join("");
    container.innerHTML =
      '<figure class="chart" id="' + esc(id) + '"><div class="chart-frame">' +
      '<div class="chart-y" aria-hidden="true">' + yLabels + "</div>" +
      '<div class="chart-plot"><svg class="chart-svg" xmlns="' + SVG_NS + '" viewBox="0 0 ' + width + " " + VIEW_HEIGHT +
      '" preserveAspectRatio="none" role="img" aria-label="' + esc(summary) + '" focusable="false"><title>' + esc(summary) +
      '</title><g class="chart-grid">' + grid + '</g><g class="chart-bars">' + rects + "</g></svg>" +
      '<div class="chart-x" aria-hidden="true">' + xLabels + "</div></div></div>" +
      '<div class="chart-data"><table class="chart-table"><caption>' + esc(options.title) + "</caption><thead><tr>" +
      '<th scope="col">' + esc(options.labelName) + '</th><th scope="col">' + esc(options.valueName) + "</th></tr></thead><tbody>" +
      rows + "</tbody></table></div></figure>";
  }

  // ---- The rest of the page -----------------------------------------------------------------

  function field(name, text) {
    root.querySelectorAll('[data-field="' + name + '"]').forEach(function (el) { el.textContent = text; });
  }

  function rows(name, html, empty, columns) {
    var body = root.querySelector('[data-rows="' + name + '"]');
    if (body) body.innerHTML = html || '<tr><td colspan="' + columns + '" class="muted">' + esc(empty) + "</td></tr>";
  }

  // Paths from the page (Django's URL names), with a placeholder last segment.
  function profileUrl(username) {
    return esc(root.dataset.profileUrl.replace(/_$/, encodeURIComponent(username)));
  }

  function tweetUrl(id) {
    return esc(root.dataset.tweetUrl.replace(/0$/, encodeURIComponent(id)));
  }

  function render(data) {
    var redis = !!data.redis;
    root.querySelector("[data-redis-down]").hidden = redis;
    var deliveries = data.deliveries;
    field("rate", redis ? deliveries.last_10s_per_s.toFixed(1) : "–");
    field("peak", redis ? String(deliveries.peak) : "–");
    field("waiting", String(data.outbox.waiting));
    field("oldest", String(data.outbox.oldest_s));
    var summary = data.lag_summary || {};
    field("median", summary.median_text || "–");
    field("max", summary.max_text || "–");
    field("lag-count", String(summary.count || 0));
    field("celebrities", String(data.celebrity_count));

    barChart(root.querySelector('[data-chart="deliveries"]'),
      redis ? deliveries.per_second.map(function (p) { return [p.label, p.deliveries]; }) : [],
      { id: "deliveries-chart", title: "Deliveries per second, last minute", labelName: "Second", valueName: "Deliveries" });
    barChart(root.querySelector('[data-chart="lags"]'),
      data.lags.map(function (lag) { return [lag.label, lag.lag_ms]; }),
      { id: "lag-chart", title: "Fan-out lag of recent tweets, in milliseconds", labelName: "Posted", valueName: "Lag (ms)" });

    rows("lags", data.lags.slice().reverse().slice(0, 8).map(function (lag) {
      return '<tr><th scope="row"><a href="' + tweetUrl(lag.tweet_id) + '">' + esc(lag.label) + "</a></th><td>" +
        (lag.author ? "@" + esc(lag.author) : '<span class="muted">deleted</span>') + '</td><td class="num">' +
        esc(lag.followers) + '</td><td class="num">' + esc(lag.lag_text) + "</td></tr>";
    }).join(""), "No fan-out recorded yet.", 4);
    rows("outbox", data.outbox.topics.map(function (topic) {
      return '<tr><th scope="row">' + esc(topic.name) + ' <code class="tl-topic">' + esc(topic.topic) + '</code></th><td class="num">' +
        esc(topic.waiting) + '</td><td class="num">' + esc(topic.oldest_s) + " s</td></tr>";
    }).join(""), "", 3);
    rows("celebrities", data.celebrities.map(function (person) {
      return '<tr><th scope="row"><a href="' + profileUrl(person.username) + '">@' + esc(person.username) + '</a></th><td class="num">' +
        esc(person.followers_count) + "</td><td>" + esc(person.mode) + "</td></tr>";
    }).join(""), "None: every account is pushed.", 3);

    var reader = data.reader;
    if (reader && root.querySelector("[data-reader]")) {
      var read = reader.read;
      field("source", read.source);
      field("merged", String(read.merged));
      field("read-items", String(read.items));
      field("read-ms", String(read.ms));
      field("rebuilt", read.rebuilt ? ", your feed rebuilt from PostgreSQL" : "");
      var merges = root.querySelector('[data-field="merges"]');
      merges.innerHTML = reader.merges.length
        ? reader.merges.map(function (p) { return '<a href="' + profileUrl(p.username) + '">@' + esc(p.username) + "</a>"; }).join(", ")
        : "none";
    }
    var at = new Date(data.generated_at);
    root.querySelector("[data-status]").textContent =
      "Figures as of " + at.toISOString().slice(11, 19) + " UTC.";
  }

  function poll() {
    if (document.hidden) return window.setTimeout(poll, delay);
    fetch(root.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw response;
        return response.json();
      })
      .then(function (data) {
        render(data);
        window.setTimeout(poll, delay);
      }, function () {
        root.querySelector("[data-status]").textContent = "The server did not answer; trying again.";
        window.setTimeout(poll, delay * 3);
      });
  }

  window.setTimeout(poll, delay);
})();
