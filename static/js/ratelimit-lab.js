/* Rate limiter lab (/ratelimit/): fire requests at the lab endpoint, count what was admitted,
   draw admitted vs refused per time bucket into an SVG, and keep the memory table current.
   Plain JS, no build step, no library. Times on the chart are the server's (when each check
   came back from Redis), relative to the first request of the experiment. */
(function () {
  "use strict";

  var root = document.getElementById("lab");
  if (!root) return;

  var SVG_NS = "http://www.w3.org/2000/svg";
  var VIEW_W = 600;
  var VIEW_H = 100;
  var MIN_SPAN_MS = 5000; // a burst is one instant: show it inside a few seconds, not as one wall
  var MAX_BARS = 60;
  var BUCKETS_MS = [100, 200, 500, 1000, 2000, 5000, 10000, 30000, 60000];
  var BURST_ALGORITHMS = ["token_bucket", "gcra"];
  var HELP = {
    token_bucket:
      "A bucket holds up to burst tokens (default: the limit) and refills at limit ÷ window per second; each request takes one. Bursts pass, the average rate holds.",
    sliding_log:
      "Keeps the time of every admitted request in a sorted set and admits while fewer than limit fall in the last window. Exact at every instant, but memory grows with the limit.",
    sliding_counter:
      "Two fixed-window counters; the previous one is weighted by how much of it the sliding window still covers. Approximate, two numbers per key.",
    fixed_window:
      "One counter per window, reset at each boundary. Cheapest, but up to twice the limit can pass across a boundary.",
    gcra:
      "Generic cell rate algorithm: one timestamp per key (the theoretical arrival time). Admits like a token bucket with one value of state.",
  };

  var form = document.getElementById("lab-form");
  var fields = {
    algorithm: document.getElementById("lab-algorithm"),
    limit: document.getElementById("lab-limit"),
    window: document.getElementById("lab-window"),
    burst: document.getElementById("lab-burst"),
  };
  var burstN = document.getElementById("lab-burst-n");
  var rateInput = document.getElementById("lab-rate");
  var durationInput = document.getElementById("lab-duration");
  var steadyButton = root.querySelector("[data-steady]");
  var latest = root.querySelector("[data-testid=latest]");
  var csrf = form.querySelector("[name=csrfmiddlewaretoken]").value;

  var state = newExperiment();
  var queue = Promise.resolve();
  var steady = null;

  function newExperiment() {
    return { origin: null, decisions: [], admitted: 0, refused: 0, last: null };
  }

  // ---- Talking to the server -------------------------------------------------------------

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body || {}),
    }).then(function (response) {
      if (response.status === 204) return null;
      return response.json().then(
        function (data) {
          if (!response.ok) throw { status: response.status, error: data.error || {} };
          return data;
        },
        function () {
          throw { status: response.status, error: { message: "The server answered " + response.status + "." } };
        }
      );
    });
  }

  function config() {
    var burst = fields.burst.disabled ? "" : fields.burst.value.trim();
    return {
      algorithm: fields.algorithm.value,
      limit: Number(fields.limit.value),
      window: Number(fields.window.value),
      burst: burst === "" ? null : Number(burst),
    };
  }

  function showFieldErrors(fieldErrors) {
    ["limit", "window", "burst"].forEach(function (name) {
      var messages = (fieldErrors && fieldErrors[name]) || [];
      var box = document.getElementById("lab-" + name + "-error");
      box.textContent = messages.join(" ");
      if (messages.length) fields[name].setAttribute("aria-invalid", "true");
      else fields[name].removeAttribute("aria-invalid");
    });
  }

  function failed(problem) {
    var error = (problem && problem.error) || {};
    showFieldErrors(error.fields);
    var text = error.message || "The request failed; is the server running?";
    if (problem && problem.status === 429) text = "The lab itself is rate limited: " + text;
    say(text, true);
  }

  // One request in flight at a time, in order: the chart's times stay monotonic.
  function fire(n) {
    var body = config();
    body.n = n;
    queue = queue.then(function () {
      return post(root.dataset.checkUrl, body).then(function (data) {
        showFieldErrors(null);
        record(data, n);
      }, failed);
    });
    return queue;
  }

  // ---- Recording and showing decisions ---------------------------------------------------

  function record(data, n) {
    data.decisions.forEach(function (d) {
      if (state.origin === null) state.origin = d.t;
      state.decisions.push({ t: d.t - state.origin, allowed: d.allowed });
    });
    state.admitted += data.admitted;
    state.refused += data.refused;
    state.last = data.decisions[data.decisions.length - 1];
    setText("[data-testid=admitted-count]", state.admitted);
    setText("[data-testid=refused-count]", state.refused);
    setText("[data-legend=admitted]", state.admitted);
    setText("[data-legend=refused]", state.refused);
    setText("[data-testid=remaining]", state.last.remaining);
    setText("[data-testid=retry-after]", state.last.allowed ? "0 s" : seconds(state.last.retry_after));
    var row = root.querySelector('tr[data-algorithm="' + data.algorithm + '"] [data-key-now]');
    if (row) row.textContent = formatBytes(data.key_memory_bytes);

    var what;
    if (n === 1) {
      what = "Request " + (state.admitted + state.refused) + ": " + (state.last.allowed ? "admitted" : "refused") + ".";
    } else {
      what = n + " requests: " + data.admitted + " admitted, " + data.refused + " refused.";
    }
    var next = state.last.allowed
      ? " " + state.last.remaining + " left."
      : " Next one allowed in " + seconds(state.last.retry_after) + ".";
    say(what + next, false);
    draw();
  }

  function say(text, isError) {
    latest.textContent = text;
    latest.classList.toggle("lab-latest-error", !!isError);
  }

  function setText(selector, value) {
    root.querySelector(selector).textContent = String(value);
  }

  function seconds(value) {
    return (value < 10 ? value.toFixed(1) : Math.round(value)) + " s";
  }

  function formatBytes(value) {
    var units = ["B", "KB", "MB", "GB", "TB", "PB"];
    var i = 0;
    while (value >= 1000 && i < units.length - 1) {
      value /= 1000;
      i += 1;
    }
    if (i === 0) return value.toLocaleString("en") + " B";
    return (value < 100 ? Number(value.toPrecision(3)) : Math.round(value)).toLocaleString("en") + " " + units[i];
  }

  // ---- The chart ---------------------------------------------------------------------------

  function axisTicks(maximum) {
    // 0 up to a round number >= maximum in at most 4 steps of 1, 2 or 5 x 10^k (as charts.py).
    if (maximum <= 0) return [0, 1];
    var rough = maximum / 4;
    var magnitude = Math.pow(10, Math.floor(Math.log10(rough)));
    var step = [1, 2, 5, 10].map(function (m) { return m * magnitude; }).filter(function (s) { return s >= rough; })[0];
    step = Math.max(step, 1);
    var ticks = [];
    for (var i = 0; i <= Math.ceil(maximum / step - 1e-9); i++) ticks.push(i * step);
    return ticks;
  }

  function bucketLabel(ms) {
    return ms < 1000 ? ms + " ms" : ms / 1000 + " s";
  }

  function svg(name, attrs) {
    var el = document.createElementNS(SVG_NS, name);
    Object.keys(attrs).forEach(function (key) { el.setAttribute(key, attrs[key]); });
    return el;
  }

  function draw() {
    var figure = document.getElementById("lab-chart");
    var bars = figure.querySelector("[data-bars]");
    var grid = figure.querySelector("[data-grid]");
    var yLabels = figure.querySelector("[data-y-labels]");
    var xLabels = figure.querySelector("[data-x-labels]");
    var summary = document.getElementById("lab-chart-summary");
    [bars, grid, yLabels, xLabels].forEach(function (el) { el.replaceChildren(); });
    figure.classList.toggle("lab-chart-empty", state.decisions.length === 0);
    if (!state.decisions.length) {
      summary.textContent = "No requests yet.";
      figure.querySelector("[data-bucket]").textContent = "100 ms";
      return;
    }

    var lastT = state.decisions[state.decisions.length - 1].t;
    var span = Math.max(lastT + 1, MIN_SPAN_MS);
    var bucket = BUCKETS_MS.filter(function (b) { return span / b <= MAX_BARS; })[0] || 60000;
    var count = Math.ceil(span / bucket);
    var admitted = new Array(count).fill(0);
    var refused = new Array(count).fill(0);
    state.decisions.forEach(function (d) {
      var i = Math.min(count - 1, Math.floor(d.t / bucket));
      (d.allowed ? admitted : refused)[i] += 1;
    });
    var peak = 0;
    for (var i = 0; i < count; i++) peak = Math.max(peak, admitted[i] + refused[i]);
    var ticks = axisTicks(peak);
    var top = ticks[ticks.length - 1];

    ticks.forEach(function (t) {
      var y = VIEW_H * (1 - t / top);
      grid.appendChild(svg("line", {
        class: "chart-gridline" + (t === 0 ? " chart-baseline" : ""),
        x1: 0, x2: VIEW_W, y1: y, y2: y, "vector-effect": "non-scaling-stroke",
      }));
      var label = document.createElement("span");
      label.className = "chart-y-label";
      label.style.bottom = (100 * t / top) + "%";
      label.textContent = t;
      yLabels.appendChild(label);
    });

    var slot = VIEW_W / count;
    var width = slot * 0.72;
    for (i = 0; i < count; i++) {
      var x = i * slot + (slot - width) / 2;
      var hA = VIEW_H * admitted[i] / top;
      var hR = VIEW_H * refused[i] / top;
      var from = bucketLabel(i * bucket);
      if (admitted[i]) {
        bars.appendChild(withTitle(svg("rect", { class: "lab-bar lab-bar-admitted", x: x, y: VIEW_H - hA, width: width, height: hA }),
          admitted[i] + " admitted at +" + from));
      }
      if (refused[i]) {
        bars.appendChild(withTitle(svg("rect", { class: "lab-bar lab-bar-refused", x: x, y: VIEW_H - hA - hR, width: width, height: hR }),
          refused[i] + " refused at +" + from));
      }
    }

    // Round seconds on the x axis (0, 1, 2 ... or 0, 5, 10 ...), at most 6 labels.
    var spanS = (count * bucket) / 1000;
    var step = [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600].filter(function (s) {
      return spanS / s <= 5;
    })[0] || 600;
    for (var k = 0; k * step <= spanS + 1e-9; k++) {
      var at = k * step;
      var xl = document.createElement("span");
      xl.className = "chart-x-label";
      xl.style.setProperty("--left", (100 * at) / spanS + "%");
      xl.style.left = (100 * at) / spanS + "%";
      xl.textContent = Number(at.toFixed(1)) + " s";
      xLabels.appendChild(xl);
    }

    figure.querySelector("[data-bucket]").textContent = bucketLabel(bucket);
    summary.textContent =
      "Admitted and refused per " + bucketLabel(bucket) + " over " + (span / 1000).toFixed(1) +
      " s: " + state.admitted + " admitted, " + state.refused + " refused.";
  }

  function withTitle(el, text) {
    var title = document.createElementNS(SVG_NS, "title");
    title.textContent = text;
    el.appendChild(title);
    return el;
  }

  // ---- Memory table ------------------------------------------------------------------------

  var memoryTimer = null;
  function refreshMemory() {
    window.clearTimeout(memoryTimer);
    memoryTimer = window.setTimeout(function () {
      var body = config();
      delete body.algorithm;
      if (!(body.limit >= 1) || !(body.window >= 1)) return;
      post(root.dataset.memoryUrl, body).then(function (data) {
        showFieldErrors(null);
        var tbody = root.querySelector("[data-memory-rows]");
        tbody.replaceChildren();
        data.algorithms.forEach(function (row) {
          var tr = document.createElement("tr");
          tr.dataset.algorithm = row.algorithm;
          tr.innerHTML =
            '<th scope="row"><span class="share-bar"></span><span class="share-name"></span></th>' +
            '<td class="num"></td><td class="num"></td><td class="num" data-key-now>–</td>';
          tr.querySelector(".share-bar").style.setProperty("--share", row.share + "%");
          tr.querySelector(".share-name").textContent = row.name;
          tr.children[1].textContent = row.bytes_per_key_text;
          tr.children[1].dataset.bytes = row.bytes_per_key;
          tr.children[2].textContent = row.bytes_for_users_text;
          tbody.appendChild(tr);
        });
        root.querySelectorAll("[data-memory-limit]").forEach(function (el) { el.textContent = data.limit; });
      }, failed);
    }, 300);
  }

  // ---- Controls ----------------------------------------------------------------------------

  function stopSteady() {
    if (!steady) return;
    window.clearInterval(steady.timer);
    steady = null;
    steadyButton.textContent = "Start steady";
    steadyButton.setAttribute("aria-pressed", "false");
  }

  function startSteady() {
    var rate = Math.min(100, Math.max(1, Number(rateInput.value) || 1));
    var duration = Math.min(10, Math.max(1, Number(durationInput.value) || 1));
    var started = performance.now();
    var sent = 0;
    var total = Math.round(rate * duration);
    steady = {
      timer: window.setInterval(function () {
        var due = Math.min(total, Math.floor((rate * (performance.now() - started)) / 1000) + 1);
        if (due > sent) {
          fire(due - sent);
          sent = due;
        }
        if (sent >= total) stopSteady();
      }, 100),
    };
    steadyButton.textContent = "Stop steady";
    steadyButton.setAttribute("aria-pressed", "true");
  }

  function clearExperiment() {
    stopSteady();
    state = newExperiment();
    ["admitted-count", "refused-count"].forEach(function (id) { setText("[data-testid=" + id + "]", 0); });
    setText("[data-legend=admitted]", 0);
    setText("[data-legend=refused]", 0);
    setText("[data-testid=remaining]", "–");
    setText("[data-testid=retry-after]", "–");
    draw();
  }

  function syncAlgorithm() {
    var algorithm = fields.algorithm.value;
    document.getElementById("algorithm-help").textContent = HELP[algorithm] || "";
    fields.burst.disabled = BURST_ALGORITHMS.indexOf(algorithm) === -1;
    root.querySelector("[data-burst-field]").classList.toggle("lab-field-off", fields.burst.disabled);
  }

  root.addEventListener("click", function (event) {
    var button = event.target.closest("button");
    if (!button || !root.contains(button)) return;
    if (button.hasAttribute("data-fire")) {
      fire(Number(button.dataset.fire));
    } else if (button.hasAttribute("data-fire-burst")) {
      var n = Math.round(Number(burstN.value));
      var max = Number(root.dataset.maxN);
      if (!(n >= 1 && n <= max)) {
        say("A burst is 1 to " + max + " requests.", true);
        return;
      }
      fire(n);
    } else if (button.hasAttribute("data-steady")) {
      if (steady) stopSteady();
      else startSteady();
    } else if (button.hasAttribute("data-reset")) {
      clearExperiment();
      queue = queue.then(function () {
        return post(root.dataset.resetUrl).then(function () {
          root.querySelectorAll("[data-key-now]").forEach(function (el) { el.textContent = "–"; });
          say("Started over: every algorithm's state for this browser is empty.", false);
        }, failed);
      });
    }
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    fire(1);
  });

  // A new algorithm or configuration is a new experiment: its own key, a fresh chart.
  fields.algorithm.addEventListener("change", function () {
    syncAlgorithm();
    clearExperiment();
    say("Switched to " + fields.algorithm.options[fields.algorithm.selectedIndex].text + ".", false);
  });
  ["limit", "window", "burst"].forEach(function (name) {
    fields[name].addEventListener("change", function () {
      clearExperiment();
      refreshMemory();
    });
  });

  syncAlgorithm();
  draw();
})();
