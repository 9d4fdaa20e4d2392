// The console's one-time links (/console/password#<token>) carry their token in the fragment,
// which the browser never sends to a server (so no access log holds it). This copies it into
// the form, hides the field, and takes it out of the address bar. Without script, the person
// pastes the part after # into the field.
(function () {
  "use strict";
  var field = document.getElementById("link-token");
  var token = window.location.hash.slice(1);
  if (!field || !token) {
    return;
  }
  field.value = token;
  var row = document.getElementById("link-token-row");
  if (row) {
    row.hidden = true;
  }
  history.replaceState(null, "", window.location.pathname + window.location.search);
})();
