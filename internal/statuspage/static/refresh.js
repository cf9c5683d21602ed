// Refreshes the status page in place every data-refresh seconds: fetches
// the same URL and swaps <main>, so the scroll position stays and the
// filter box keeps what is being typed. Without JavaScript a meta refresh
// in <noscript> reloads the page instead.
(function () {
  "use strict";
  var seconds = parseInt(document.body.getAttribute("data-refresh"), 10);
  if (!(seconds > 0)) {
    return;
  }
  function refresh() {
    var active = document.activeElement;
    if (active && active.id === "q") {
      return; // someone is typing a filter
    }
    fetch(window.location.href, { headers: { "Accept": "text/html" }, credentials: "same-origin" })
      .then(function (resp) {
        if (!resp.ok) {
          throw new Error("status " + resp.status);
        }
        return resp.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var next = doc.getElementById("main");
        var cur = document.getElementById("main");
        if (next && cur) {
          cur.replaceWith(document.importNode(next, true));
          document.title = doc.title;
        }
      })
      .catch(function () {
        // The daemon restarting or the network away: try again next time.
      });
  }
  window.setInterval(refresh, seconds * 1000);
}());
