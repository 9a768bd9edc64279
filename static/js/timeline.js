/* Timeline pages: the compose box's live counter and image picker, "load more" in place, and
   the home page's "new tweets" notice (GET /api/v1/timeline/home?since_id=, with the session).
   Plain JS, no build step, no library. Every page works without this file, images apart: the
   counter is a hint (the server counts with twitter-text and decides), "load more" is a link,
   and the form posts text. */
(function () {
  "use strict";

  var tokenInput = document.querySelector("[name=csrfmiddlewaretoken]");
  var csrf = tokenInput ? tokenInput.value : "";
  var MEDIA_POLL_MS = 500;
  var MEDIA_POLL_TRIES = 120; // a minute for the thumbnail (the `media` queue's workers)

  function getJson(url, options) {
    return fetch(url, Object.assign({ credentials: "same-origin" }, options || {})).then(function (response) {
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

  function problemText(problem) {
    var error = (problem && problem.error) || {};
    var fields = error.fields || {};
    var first = Object.keys(fields).map(function (key) { return [].concat(fields[key])[0]; })[0];
    return first || error.message || "The upload failed; is the server running?";
  }

  // ---- Compose: counter ----------------------------------------------------------------------

  document.querySelectorAll("[data-compose]").forEach(function (form) {
    var text = form.querySelector("[data-compose-text]");
    var count = form.querySelector("[data-compose-count]");
    var live = form.querySelector("[data-compose-live]");
    var max = Number(form.dataset.maxLength);
    var lastState = "ok";

    function update() {
      if (!window.TweetLength) return;
      var left = max - window.TweetLength.weightedLength(text.value);
      var state = left < 0 ? "over" : left <= 20 ? "near" : "ok";
      count.dataset.state = state;
      count.textContent = left < 0
        ? -left + " character" + (left === -1 ? "" : "s") + " over the limit"
        : left + " character" + (left === 1 ? "" : "s") + " left";
      // Announce crossings only: a live region read out on every keystroke is noise.
      if (state !== lastState) live.textContent = state === "ok" ? "" : count.textContent;
      lastState = state;
    }

    text.addEventListener("input", update);
    update();
    setUpMedia(form);
  });

  // ---- Compose: images, through POST /api/v1/media ---------------------------------------------

  function setUpMedia(form) {
    var picker = form.querySelector("[data-media-picker]");
    var input = form.querySelector("[data-media-input]");
    var list = form.querySelector("[data-media-list]");
    var submit = form.querySelector("[data-compose-submit]");
    var live = form.querySelector("[data-compose-live]");
    if (!picker || !input || !window.fetch || !window.FormData) return;
    picker.hidden = false;
    var label = submit.textContent;
    var max = Number(form.dataset.maxMedia);
    var pending = 0;

    function sync() {
      submit.disabled = pending > 0;
      submit.textContent = pending > 0 ? "Waiting for images…" : label;
      list.hidden = !list.children.length;
    }

    input.addEventListener("change", function () {
      var files = Array.prototype.slice.call(input.files);
      input.value = "";
      files.forEach(function (file) {
        if (list.children.length >= max) {
          live.textContent = "Up to " + max + " images per tweet.";
          return;
        }
        upload(file);
      });
    });

    function upload(file) {
      var item = document.createElement("figure");
      item.className = "compose-thumb";
      item.dataset.state = "uploading";
      item.setAttribute("data-testid", "compose-image");
      var preview = document.createElement("img");
      preview.alt = "Image to attach: " + file.name;
      preview.src = URL.createObjectURL(file);
      var caption = document.createElement("figcaption");
      caption.textContent = "Uploading…";
      var remove = document.createElement("button");
      remove.type = "button";
      remove.textContent = "×";
      remove.setAttribute("aria-label", "Remove " + file.name);
      remove.addEventListener("click", function () {
        item.remove();
        sync();
      });
      item.append(preview, caption, remove);
      list.appendChild(item);
      pending += 1;
      sync();

      var body = new FormData();
      body.append("file", file);
      getJson(form.dataset.mediaUrl, {
        method: "POST",
        headers: { "X-CSRFToken": csrf, Accept: "application/json" },
        body: body,
      })
        .then(function (media) {
          item.dataset.state = "processing";
          caption.textContent = "Making the thumbnail…";
          return whenReady(media, 0);
        })
        .then(function (media) {
          var hidden = document.createElement("input");
          hidden.type = "hidden";
          hidden.name = "media_ids";
          hidden.value = media.id;
          item.appendChild(hidden);
          item.dataset.state = "ready";
          if (media.preview_url) preview.src = media.preview_url;
          caption.textContent = "Ready";
        })
        .catch(function (problem) {
          item.dataset.state = "failed";
          caption.textContent = problemText(problem);
          live.textContent = file.name + ": " + caption.textContent;
        })
        .then(function () {
          pending -= 1;
          sync();
        });
    }

    function whenReady(media, tries) {
      if (media.status === "ready") return Promise.resolve(media);
      if (media.status === "failed") return Promise.reject({ error: { message: media.error || "This file could not be processed." } });
      if (tries >= MEDIA_POLL_TRIES) return Promise.reject({ error: { message: "Still processing after a minute: are the workers running?" } });
      return new Promise(function (resolve) { window.setTimeout(resolve, MEDIA_POLL_MS); }).then(function () {
        return getJson(form.dataset.mediaUrl + "/" + encodeURIComponent(media.id), { headers: { Accept: "application/json" } });
      }).then(function (next) { return whenReady(next, tries + 1); });
    }
  }

  // ---- "Load more" in place --------------------------------------------------------------------

  function fetchPage(url) {
    return fetch(url, { credentials: "same-origin" }).then(function (response) {
      if (!response.ok) throw response;
      return response.text().then(function (html) {
        return new DOMParser().parseFromString(html, "text/html");
      });
    });
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest("[data-load-more]");
    if (!link) return;
    event.preventDefault();
    var section = link.closest("section");
    var list = section.querySelector("[data-tweets]");
    link.setAttribute("aria-disabled", "true");
    fetchPage(link.href).then(function (doc) {
      doc.querySelectorAll("[data-tweets] > li").forEach(function (item) {
        if (!list.querySelector('[data-tweet-id="' + item.dataset.tweetId + '"]')) {
          list.appendChild(document.importNode(item, true));
        }
      });
      var next = doc.querySelector("[data-load-more]");
      if (next) {
        link.setAttribute("href", next.getAttribute("href"));
        link.removeAttribute("aria-disabled");
      } else {
        var end = document.createElement("p");
        end.className = "tl-end muted";
        end.textContent = "That is all of it: nothing older.";
        link.parentNode.replaceWith(end);
      }
    }, function () {
      window.location.href = link.href; // let the server say what is wrong
    });
  });

  // ---- New tweets: poll the API with since_id --------------------------------------------------

  var home = document.querySelector("[data-home]");
  if (!home || home.hasAttribute("data-no-poll")) return;
  var delay = Number(home.dataset.pollSeconds || 5) * 1000;
  var LIMIT = 100;

  function schedule(ms) {
    window.setTimeout(poll, ms);
  }

  function shown(id) {
    return !!home.querySelector('[data-tweet-id="' + id + '"]');
  }

  function poll() {
    if (document.hidden) return schedule(delay); // no reads for a tab nobody looks at
    var query = "?since_id=" + encodeURIComponent(home.dataset.newestId || "0") + "&limit=" + LIMIT;
    fetch(home.dataset.pollUrl + query, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (response.status === 401 || response.status === 403) return; // signed out: stop
        if (response.status === 429) {
          return schedule(1000 * Math.max(Number(response.headers.get("Retry-After")) || 0, delay / 1000));
        }
        if (!response.ok) return schedule(delay * 3);
        return response.json().then(function (data) {
          var fresh = data.results.filter(function (tweet) { return !shown(tweet.id); }).length;
          announce(fresh, data.results.length >= LIMIT);
          schedule(delay);
        });
      }, function () {
        schedule(delay * 3); // the server is away: ask less often
      });
  }

  function announce(count, more) {
    var notice = home.querySelector("[data-new-tweets]");
    var link = home.querySelector("[data-show-new]");
    if (!notice || !link) return;
    notice.hidden = count === 0;
    link.textContent = "Show " + count + (more ? "+" : "") + " new tweet" + (count === 1 ? "" : "s");
  }

  home.addEventListener("click", function (event) {
    var link = event.target.closest("[data-show-new]");
    if (!link) return;
    event.preventDefault();
    var before = {};
    home.querySelectorAll("[data-tweet-id]").forEach(function (item) { before[item.dataset.tweetId] = true; });
    fetchPage(link.href).then(function (doc) {
      var fresh = doc.querySelector("[data-home]");
      if (!fresh) throw new Error("no timeline in the page");
      home.replaceChildren.apply(home, Array.prototype.map.call(fresh.childNodes, function (node) {
        return document.importNode(node, true);
      }));
      home.dataset.newestId = fresh.dataset.newestId;
      home.querySelectorAll("[data-tweet-id]").forEach(function (item) {
        if (!before[item.dataset.tweetId]) item.classList.add("tweet-fresh");
      });
      var first = home.querySelector(".tweet-fresh a");
      if (first) first.focus({ preventScroll: true });
    }, function () {
      window.location.href = link.href;
    });
  });

  schedule(delay);
})();
