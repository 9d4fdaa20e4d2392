// The pickup code rides in the link's fragment (#12345678), which the browser never sends to a
// server. This asks the server to draw it as a QR code (segno) in a POST body, kept nowhere.
(function () {
  "use strict";
  // forms and the language switch keep the fragment: a redirect without one inherits it
  if (window.location.hash) {
    document.querySelectorAll("form[method=post]").forEach(function (form) {
      form.setAttribute("action", form.getAttribute("action") + window.location.hash);
    });
    document.querySelectorAll("a[data-keep-fragment]").forEach(function (a) {
      a.setAttribute("href", a.getAttribute("href") + window.location.hash);
    });
  }
  const box = document.getElementById("own-code");
  const code = window.location.hash.slice(1).replace(/\D/g, "");
  if (!box || code.length !== 8) return;
  const body = new URLSearchParams({ code: code });
  fetch(box.dataset.qr, { method: "POST", body: body, credentials: "omit", cache: "no-store" })
    .then(function (answer) { return answer.ok ? answer.text() : Promise.reject(answer.status); })
    .then(function (svg) {
      box.querySelector(".qr").innerHTML = svg;
      box.querySelector(".code").textContent = code.slice(0, 4) + " " + code.slice(4);
      box.querySelector(".code-missing").classList.add("hidden");
      box.querySelector(".shown").classList.remove("hidden");
    })
    .catch(function () { /* the message still holds the code */ });
})();
