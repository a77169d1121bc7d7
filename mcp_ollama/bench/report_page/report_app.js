/* Feeds the report drawing (report.js, `window.mcpOllamaReport`) its result.
 *
 * Two ways in: a saved report embeds its result in a "report-data" JSON block; the MCP App view
 * has none and gets the result from its host as the tool result (ui/notifications/tool-result),
 * after the MCP Apps handshake (ui/initialize). Nothing here loads anything from the network.
 */
(function () {
  "use strict";

  var report = window.mcpOllamaReport;

  function startApp(root) {
    var nextId = 1;
    var pending = {};
    report.message(root, "Waiting for the benchmark to finish\u2026");

    function post(payload) {
      payload.jsonrpc = "2.0";
      window.parent.postMessage(payload, "*");
    }

    function request(method, params) {
      var id = nextId++;
      post({ id: id, method: method, params: params });
      return new Promise(function (resolve) { pending[id] = resolve; });
    }

    function reportSize() {
      var box = document.documentElement.getBoundingClientRect();
      post({ method: "ui/notifications/size-changed",
        params: { width: Math.ceil(box.width), height: Math.ceil(box.height) } });
    }

    function showResult(params) {
      var data = params.structuredContent;
      if (!params.isError && data && (data.kind === "benchmark" || data.kind === "comparison")) {
        report.render(root, data);
      } else {
        var first = (params.content || []).find(function (c) { return c.type === "text"; });
        report.message(root, first ? first.text : "The tool returned no result to show.", params.isError);
      }
    }

    window.addEventListener("message", function (event) {
      var m = event.data;
      if (event.source !== window.parent || !m || m.jsonrpc !== "2.0") return;
      if (m.method === undefined) {
        var done = pending[m.id];
        delete pending[m.id];
        if (done) done(m.result || {});
      } else if (m.method === "ui/notifications/tool-result") {
        showResult(m.params || {});
      } else if (m.method === "ui/notifications/tool-cancelled") {
        report.message(root, "The benchmark was cancelled.", true);
      } else if (m.id !== undefined) {
        post({ id: m.id, result: {} });  // teardown and any other request: nothing to clean up
      }
    });

    request("ui/initialize", {
      protocolVersion: "2026-01-26",
      appInfo: { name: "mcp-ollama report", version: "1" },
      appCapabilities: {},
    }).then(function () {
      post({ method: "ui/notifications/initialized", params: {} });
      if (window.ResizeObserver) new ResizeObserver(reportSize).observe(document.documentElement);
    });
  }

  var root = document.getElementById("report");
  var embedded = document.getElementById("report-data");
  if (embedded) {
    report.render(root, JSON.parse(embedded.textContent));
  } else {
    startApp(root);
  }
})();
