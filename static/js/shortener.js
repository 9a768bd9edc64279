/* URL shortener pages: "Copy" buttons, and the browser's time zone for date inputs.
   Everything works without this file; it only adds the clipboard and local times. */
(function () {
  "use strict";

  // The server shows and reads datetime-local inputs in this zone (shortener/views.py).
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && document.cookie.split("; ").indexOf("tz=" + zone) === -1) {
      document.cookie = "tz=" + zone + "; path=/; max-age=31536000; SameSite=Lax";
    }
  } catch (e) {
    /* no Intl: times stay in UTC, and the forms say so */
  }

  var live = document.createElement("span");
  live.className = "visually-hidden";
  live.setAttribute("role", "status");
  live.setAttribute("aria-live", "polite");

  function announce(text) {
    if (!live.isConnected) document.body.appendChild(live);
    live.textContent = "";
    window.setTimeout(function () { live.textContent = text; }, 50);
  }

  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    area.remove();
    return ok;
  }

  function done(button, ok, text) {
    var label = button.dataset.label || button.textContent;
    button.dataset.label = label;
    button.textContent = ok ? "Copied" : "Copy failed";
    button.classList.toggle("copied", ok);
    announce(ok ? "Copied " + text : "Could not copy; select the link and copy it by hand.");
    window.clearTimeout(button._reset);
    button._reset = window.setTimeout(function () {
      button.textContent = label;
      button.classList.remove("copied");
    }, 2000);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var text = button.dataset.copy;
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(
        function () { done(button, true, text); },
        function () { done(button, fallbackCopy(text), text); }
      );
    } else {
      done(button, fallbackCopy(text), text);
    }
  });
})();
