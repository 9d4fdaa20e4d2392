// Small helpers for the touchscreen: number pad, 4+4 code grouping, countdowns, door watching,
// and the idle timer that takes the screen home. Everything also works with a keyboard alone.
(function () {
  "use strict";
  const body = document.body;

  function group(digits) {
    return digits.length > 4 ? digits.slice(0, 4) + " " + digits.slice(4, 8) : digits;
  }

  const code = document.getElementById("code");
  if (code) {
    code.addEventListener("input", function () {
      code.value = group(code.value.replace(/\D/g, "").slice(0, 8));
    });
    document.querySelectorAll(".key").forEach(function (key) {
      key.addEventListener("click", function () {
        let digits = code.value.replace(/\D/g, "");
        const k = key.dataset.key;
        if (k === "back") digits = digits.slice(0, -1);
        else if (k === "clear") digits = "";
        else if (digits.length < 8) digits += k;
        code.value = group(digits);
        code.focus();
      });
    });
  }

  document.querySelectorAll("[data-countdown]").forEach(function (el) {
    let left = parseInt(el.dataset.countdown, 10);
    const template = el.dataset.template;
    const tick = function () {
      const m = Math.floor(left / 60), s = left % 60;
      el.textContent = template.replace("{time}", m + ":" + String(s).padStart(2, "0"));
      if (left <= 0) { window.location.reload(); return; }
      left -= 1;
      setTimeout(tick, 1000);
    };
    tick();
  });

  const panel = document.querySelector("[data-watch]");
  if (panel) {
    const poll = function () {
      fetch(panel.dataset.watch, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (d) {
          if (d && (d.state !== panel.dataset.state || d.compartment !== panel.dataset.compartment)) {
            window.location.reload();
          } else {
            setTimeout(poll, 500);
          }
        })
        .catch(function () { setTimeout(poll, 1000); });
    };
    if (["open", "opening", "resizing", "cancelling"].includes(panel.dataset.state)) setTimeout(poll, 500);
  }

  const idle = parseInt(body.dataset.idleSeconds || "0", 10);
  if (idle > 0) {
    let timer;
    const home = function () {
      const form = document.createElement("form");
      form.method = "post";
      form.action = body.dataset.idleTarget;
      document.body.appendChild(form);
      form.submit();
    };
    const reset = function () { clearTimeout(timer); timer = setTimeout(home, idle * 1000); };
    ["click", "keydown", "input", "touchstart"].forEach(function (e) { document.addEventListener(e, reset); });
    reset();
  }
})();
