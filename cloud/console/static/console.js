// The console's live updates: one EventSource on /console/live. Each event names a topic
// (alarms, commands, banks); every region of the page marked data-live="<topics>" is fetched
// again (the same page, ?part=<region>) with the person's own session, and swapped in.
// Without JavaScript the pages work the same; they are only not live.
(function () {
  "use strict";
  var url = document.body.getAttribute("data-live");
  if (!url || !window.EventSource) { return; }
  var badge = document.getElementById("live");
  var pending = {};

  function shown(on) {
    if (!badge) { return; }
    badge.textContent = badge.getAttribute(on ? "data-on" : "data-off");
    badge.classList.toggle("on", on);
  }

  function partUrl(part) {
    var q = new URLSearchParams(window.location.search);
    q.set("part", part);
    return window.location.pathname + "?" + q.toString();
  }

  function typing(region) {
    var active = document.activeElement;
    return active && region.contains(active) && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName);
  }

  function refresh(region) {
    var part = region.getAttribute("data-part");
    if (typing(region)) {  // never wipe what someone is typing: refresh once they leave
      region.addEventListener("focusout", function later() {
        region.removeEventListener("focusout", later);
        setTimeout(function () { refresh(region); }, 0);
      });
      return;
    }
    if (pending[part]) { return; }
    pending[part] = true;
    fetch(partUrl(part), { credentials: "same-origin", headers: { "HX-Request": "true" } })
      .then(function (answer) {
        if (answer.status === 401) { window.location.reload(); return null; }
        return answer.ok ? answer.text() : null;
      })
      .then(function (html) {
        if (html === null || html === undefined) { return; }
        var focused = document.activeElement && document.activeElement.id;
        region.innerHTML = html;
        region.setAttribute("data-refreshed", String(Date.now()));
        if (focused) {
          var again = document.getElementById(focused);
          if (again) { again.focus(); }
        }
      })
      .catch(function () { /* the next event tries again */ })
      .then(function () { pending[part] = false; });
  }

  function onTopic(topic) {
    var regions = document.querySelectorAll("[data-live]");
    for (var i = 0; i < regions.length; i++) {
      if (regions[i].getAttribute("data-live").split(" ").indexOf(topic) >= 0) {
        refresh(regions[i]);
      }
    }
  }

  var source = new EventSource(url);
  source.onopen = function () { shown(true); };
  source.onerror = function () { shown(false); };
  ["alarms", "commands", "banks"].forEach(function (topic) {
    source.addEventListener(topic, function () { onTopic(topic); });
  });
  source.addEventListener("ended", function (e) {
    source.close();
    shown(false);
    if (e.data === "signed-out") { window.location.reload(); }
  });
})();
