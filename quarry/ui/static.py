"""The UI's stylesheet and script, served as /static/ui.css and /static/ui.js (no build step)."""

CSS = """
body { font: 13px/1.4 system-ui, sans-serif; margin: 0; color: #222; background: #fafafa; }
header { background: #263238; padding: 0 12px; display: flex; align-items: center; gap: 2px; }
header a { color: #cfd8dc; text-decoration: none; padding: 10px 12px; display: inline-block; }
header a.brand { color: #fff; font-weight: bold; font-size: 15px; margin-right: 10px; }
header a.active, header a:hover { background: #37474f; color: #fff; }
header .app { margin-left: auto; color: #90a4ae; font-size: 11px; }
main { padding: 8px 18px 40px; }
h1 { font-size: 20px; margin: 12px 0 6px; } h2 { font-size: 15px; margin: 20px 0 6px; }
table { border-collapse: collapse; background: #fff; margin-bottom: 8px; }
th, td { border: 1px solid #ddd; padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: #eceff1; font-weight: 600; }
td.empty { color: #888; font-style: italic; }
.desc { max-width: 520px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; font-family: monospace; }
.callsite { color: #777; font-size: 11px; }
progress { width: 110px; vertical-align: middle; }
.status { font-weight: 600; } .status.failed, .failed, .error { color: #c62828; }
.status.running, .status.active { color: #1565c0; } .status.succeeded, .status.complete, .status.success,
.status.completed { color: #2e7d32; } .status.skipped, .status.pending { color: #888; }
pre { background: #fff; border: 1px solid #ddd; padding: 8px; overflow: auto; max-height: 420px; }
pre.sql { max-height: 220px; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: 3px 14px; }
dl.facts dt { font-weight: 600; } dl.facts dd { margin: 0; } dl.facts pre { margin: 0; max-height: 200px; }
.graph { overflow: auto; background: #fff; border: 1px solid #ddd; padding: 6px; max-height: 900px; }
svg a:hover rect { fill: #f3f7fb; }
.summary { color: #555; }
"""

JS = """
// Keep the page live: poll the application's ui-state (a count of events); when it moved,
// fetch this page's body again and swap it in. Stops once the application has ended.
(function () {
  var main = document.getElementById('content');
  if (!main || !main.dataset.state) return;
  var seen = main.dataset.events;
  function tick() {
    fetch(main.dataset.state, {cache: 'no-store', credentials: 'same-origin'})
      .then(function (r) { return r.json(); })
      .then(function (s) {
        if (String(s.events) === seen) return s;
        return fetch(location.href, {cache: 'no-store', credentials: 'same-origin',
                                     headers: {'X-Quarry-Partial': '1'}})
          .then(function (r) {
            if (!r.ok) return s;
            var events = r.headers.get('X-Quarry-Events');
            return r.text().then(function (html) {
              main.innerHTML = html; seen = events; main.dataset.events = events; return s;
            });
          });
      })
      .then(function (s) { if (!s || !s.completed) setTimeout(tick, 1000); },
            function () { setTimeout(tick, 2000); });
  }
  setTimeout(tick, 1000);
})();
"""
