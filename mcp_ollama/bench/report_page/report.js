/* Draws a benchmark or comparison result (the JSON mcp-ollama saves) as charts and tables.
 *
 * This script only defines the drawing (`window.mcpOllamaReport`); report_app.js, which follows it
 * in the page, feeds it: a saved report's embedded result, or the MCP App view's tool result.
 * Everything is built with DOM calls and textContent, never innerHTML: model names and answers
 * come from outside and must stay text. Nothing here loads anything from the network.
 */
(function () {
  "use strict";

  var SVG_NS = "http://www.w3.org/2000/svg";
  var CHARTS = [
    { metric: "tokens_per_second", title: "Generation tokens/s", better: "higher", colour: "#2f6fb0" },
    { metric: "ttft_ms", title: "Time to first token (ms)", better: "lower", colour: "#d9822b" },
    { metric: "load_ms", title: "Load time (ms)", better: "lower", colour: "#3a8f5c" },
  ];
  var RUN_COLUMNS = [
    ["ttft_ms", "TTFT ms"],
    ["tokens_per_second", "gen tok/s"],
    ["prompt_tokens_per_second", "prompt tok/s"],
    ["load_ms", "load ms"],
    ["total_ms", "total ms"],
    ["output_tokens", "output tokens"],
    ["wall_ms", "wall ms"],
  ];
  var METRIC_LABELS = {
    tokens_per_second: "generation tokens/s",
    prompt_tokens_per_second: "prompt-eval tokens/s",
    ttft_ms: "time to first token (ms)",
    load_ms: "load time (ms)",
    total_ms: "total duration (ms)",
    wall_ms: "wall time (ms)",
    output_tokens: "output tokens",
  };
  var ENVIRONMENT_LABELS = {
    ollama: "Ollama",
    mcp_ollama: "mcp-ollama",
    host: "Host",
    os: "OS",
    machine: "Machine",
    cpus: "CPUs",
    python: "Python",
  };

  // -- building blocks ---------------------------------------------------------------------

  function h(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) {
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function s(tag, attrs, text) {
    var node = document.createElementNS(SVG_NS, tag);
    Object.keys(attrs).forEach(function (key) {
      node.setAttribute(key, String(attrs[key]));
    });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function isNumber(value) {
    return typeof value === "number" && isFinite(value);
  }

  function fmt(value) {
    if (!isNumber(value)) return "-";
    return value.toLocaleString("en-US", { maximumFractionDigits: Math.abs(value) < 10 ? 2 : 1 });
  }

  function median(values) {
    var known = values.filter(isNumber).sort(function (a, b) { return a - b; });
    if (!known.length) return null;
    var middle = (known.length - 1) / 2;
    var low = known[Math.floor(middle)];
    return low + (known[Math.ceil(middle)] - low) * (middle - Math.floor(middle));
  }

  function stat(summary, metric) {
    var stats = summary && summary[metric];
    return stats && isNumber(stats.median) ? stats.median : null;
  }

  function shorten(text, limit) {
    return text.length <= limit ? text : text.slice(0, limit - 1) + "\u2026";
  }

  /* What a bar or row is called: the model, and its host when the result names one (a
     comparison's models already carry it: "model@host"). */
  function subject(item) {
    var suffix = item.host ? "@" + item.host : "";
    var named = suffix && item.model.slice(-suffix.length) === suffix;
    return suffix && !named ? item.model + suffix : item.model;
  }

  // -- charts ------------------------------------------------------------------------------

  /* A horizontal bar chart: one bar per {label, value, note}; a missing value shows its note. */
  function barChart(spec, bars, caption) {
    var width = 480, labelWidth = 160, barArea = 250, rowHeight = 26, barHeight = 16, top = 6;
    var height = top * 2 + Math.max(1, bars.length) * rowHeight;
    var known = bars.map(function (b) { return b.value; }).filter(isNumber);
    var largest = known.length ? Math.max.apply(null, known) : 0;
    var svg = s("svg", {
      viewBox: "0 0 " + width + " " + height,
      width: width,
      height: height,
      role: "img",
      "aria-label": spec.title + " " + caption,
    });
    svg.append(s("line", { class: "axis", x1: labelWidth, x2: labelWidth, y1: 0, y2: height }));
    bars.forEach(function (bar, index) {
      var y = top + index * rowHeight;
      var name = s("text", { class: "label", x: labelWidth - 8, y: y + 12, "text-anchor": "end" });
      name.textContent = shorten(bar.label, 24);
      name.append(s("title", {}, bar.label));
      svg.append(name);
      if (!isNumber(bar.value)) {
        svg.append(s("text", { class: "missing", x: labelWidth + 6, y: y + 12 }, bar.note || "n/a"));
        return;
      }
      var length = largest > 0 ? Math.max(1, (bar.value / largest) * barArea) : 1;
      var rect = s("rect", {
        class: "bar",
        x: labelWidth,
        y: y,
        width: length.toFixed(1),
        height: barHeight,
        fill: spec.colour,
        "data-label": bar.label,
        "data-value": bar.value,
      });
      rect.append(s("title", {}, bar.label + ": " + fmt(bar.value)));
      svg.append(rect);
      svg.append(s("text", { class: "value", x: labelWidth + length + 4, y: y + 12 }, fmt(bar.value)));
    });
    var title = h("figcaption", {}, [
      spec.title + " " + caption + " ",
      h("span", {}, ["(" + spec.better + " is better)"]),
    ]);
    return h("figure", { class: "chart", "data-metric": spec.metric }, [title, svg]);
  }

  function charts(caption, barsFor) {
    return h("div", { class: "charts" }, CHARTS.map(function (spec) {
      return barChart(spec, barsFor(spec.metric), caption);
    }));
  }

  // -- tables ------------------------------------------------------------------------------

  /* A table whose numeric columns sort when their header is clicked. */
  function table(header, rows, rowClass) {
    var head = h("tr", {}, header.map(function (title, column) {
      var numeric = rows.some(function (cells) { return isNumber(cells[column]); });
      var th = h("th", numeric ? { class: "sortable" } : {}, [title]);
      if (numeric) th.addEventListener("click", function () { sortBy(body, column, th); });
      return th;
    }));
    var body = h("tbody", {}, rows.map(function (cells, index) {
      var attrs = rowClass && rowClass[index] ? { class: rowClass[index] } : {};
      return h("tr", attrs, cells.map(function (cell) {
        var numeric = isNumber(cell);
        return h("td", numeric ? { "data-sort": cell } : {}, [numeric ? fmt(cell) : String(cell)]);
      }));
    }));
    return h("div", { class: "table-scroll" }, [h("table", {}, [h("thead", {}, [head]), body])]);
  }

  function sortBy(body, column, th) {
    var descending = th.getAttribute("aria-sort") !== "descending";
    th.parentNode.querySelectorAll("th").forEach(function (other) { other.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", descending ? "descending" : "ascending");
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = Number(a.cells[column].getAttribute("data-sort"));
      var y = Number(b.cells[column].getAttribute("data-sort"));
      x = isFinite(x) && a.cells[column].hasAttribute("data-sort") ? x : -Infinity;
      y = isFinite(y) && b.cells[column].hasAttribute("data-sort") ? y : -Infinity;
      return descending ? y - x : x - y;
    });
    rows.forEach(function (row) { body.append(row); });
  }

  function answer(title, response) {
    if (!response) return null;
    var parts = [h("summary", {}, [title])];
    if (response.thinking) parts.push(h("pre", { class: "thinking" }, [response.thinking]));
    parts.push(h("pre", {}, [response.response || ""]));
    return h("details", {}, parts);
  }

  function runsOf(outcome, prompt) {
    return (outcome.metrics || []).filter(function (run) { return run.prompt === prompt; });
  }

  function medianOf(runs, metric) {
    return median(runs.map(function (run) { return run[metric]; }));
  }

  function promptText(prompt) {
    var text = (prompt.prompt || "").split(/\s+/).join(" ").trim();
    return text ? h("p", { class: "note" }, ["\u201c" + shorten(text, 200) + "\u201d"]) : null;
  }

  /* Each outcome's medians in a row (and its status), then the ones that failed and why. */
  function sideBySide(outcomes) {
    var columns = ["tokens_per_second", "prompt_tokens_per_second", "ttft_ms", "load_ms", "total_ms",
      "output_tokens"];
    var nodes = [table(
      ["model", "status", "gen tok/s", "prompt tok/s", "TTFT ms", "load ms", "total ms", "output tokens"],
      outcomes.map(function (o) {
        return [subject(o), o.ok === false ? "failed" : "ok"].concat(columns.map(function (m) {
          return stat(o.summary, m) === null ? "-" : stat(o.summary, m);
        }));
      }),
      outcomes.map(function (o) { return o.ok === false ? "failed" : ""; })
    )];
    var failed = outcomes.filter(function (o) { return o.ok === false; });
    if (failed.length) {
      nodes.push(h("h2", {}, ["Failed"]));
      nodes.push(h("ul", {}, failed.map(function (o) {
        return h("li", { class: "error" }, [subject(o) + ": " + (o.error || "failed")]);
      })));
    }
    return nodes;
  }

  /* Runs that failed while the others went on: one row each, naming its model when several ran
     ({who, failure} entries; `who` is null for a benchmark of one model). */
  function failedRuns(entries) {
    if (!entries.length) return [];
    var named = entries.some(function (e) { return e.who; });
    return [
      h("h2", {}, ["Failed runs"]),
      table((named ? ["model"] : []).concat(["prompt", "run", "error"]),
        entries.map(function (e) {
          var f = e.failure;
          var run = (f.warmup ? "warmup " : "run ") + f.run;
          return (named ? [e.who] : []).concat([f.prompt, run, f.error]);
        }),
        entries.map(function () { return "failed"; })),
    ];
  }

  /* A benchmark on several hosts: every host's medians, fastest first, charted and tabled. */
  function hostsSection(result) {
    var hosts = result.hosts || [];
    if (!hosts.length) return [];
    return [
      h("h2", {}, ["Hosts, fastest first (medians)"]),
      charts("per host", function (metric) {
        return hosts.map(function (o) {
          return { label: subject(o), value: stat(o.summary, metric), note: o.ok === false ? "failed" : "n/a" };
        });
      }),
    ].concat(sideBySide(hosts));
  }

  // -- sections ----------------------------------------------------------------------------

  function header(title, result) {
    var count = (result.prompts || []).length;
    var plan = count + " prompt(s) \u00d7 " + result.runs + " measured run(s) after " +
      result.warmup + " warmup; medians" + (result.preset ? "; preset " + result.preset : "");
    return [
      h("h1", {}, [title]),
      h("p", { class: "subtitle" }, [(result.report_id ? result.report_id + " \u00b7 " : "") +
        (result.created_at || "") + " \u00b7 " + plan]),
    ];
  }

  function environment(result, options) {
    var items = [];
    var env = result.environment || {};
    Object.keys(env).forEach(function (key) {
      items.push(h("dt", {}, [ENVIRONMENT_LABELS[key] || key]), h("dd", {}, [String(env[key])]));
    });
    items.push(h("dt", {}, ["Started"]), h("dd", {}, [result.created_at || "-"]));
    items.push(h("dt", {}, ["Preset"]), h("dd", {}, [result.preset || "none"]));
    items.push(h("dt", {}, ["Options"]), h("dd", {}, [JSON.stringify(options || {})]));
    return [h("h2", {}, ["Environment"]), h("dl", { class: "environment" }, items)];
  }

  function comparison(result) {
    var outcomes = result.models || [];
    var names = outcomes.map(subject);
    var nodes = header("Model comparison: " + names.join(" vs "), result);
    nodes.push(charts("per model", function (metric) {
      return outcomes.map(function (o) {
        return { label: subject(o), value: stat(o.summary, metric), note: o.ok === false ? "failed" : "n/a" };
      });
    }));
    nodes.push(h("h2", {}, ["Side by side (medians)"]));
    nodes = nodes.concat(sideBySide(outcomes));
    nodes.push(h("h2", {}, ["Per prompt (medians)"]));
    (result.prompts || []).forEach(function (prompt) {
      nodes.push(h("h3", {}, [prompt.name]));
      var text = promptText(prompt);
      if (text) nodes.push(text);
      nodes.push(table(["model", "runs", "gen tok/s", "TTFT ms", "load ms", "output tokens"],
        outcomes.map(function (o) {
          var runs = runsOf(o, prompt.name);
          return [subject(o), runs.length].concat(
            ["tokens_per_second", "ttft_ms", "load_ms", "output_tokens"].map(function (m) {
              var value = medianOf(runs, m);
              return value === null ? "-" : value;
            }));
        })));
      outcomes.forEach(function (o) {
        var response = (o.responses || []).find(function (r) { return r.prompt === prompt.name; });
        var block = answer("Answer from " + subject(o), response);
        if (block) nodes.push(block);
      });
    });
    nodes = nodes.concat(failedRuns(outcomes.reduce(function (all, o) {
      return all.concat((o.failures || []).map(function (f) { return { who: subject(o), failure: f }; }));
    }, [])));
    var ok = outcomes.find(function (o) { return o.ok !== false; });
    return nodes.concat(environment(result, ok ? ok.options : {}));
  }

  function benchmark(result) {
    var nodes = header("Benchmark: " + subject(result), result).concat(hostsSection(result));
    var prompts = result.prompts || [];
    if (result.hosts && result.hosts.length) nodes.push(h("h2", {}, ["Fastest host: " + subject(result)]));
    nodes.push(charts("per prompt", function (metric) {
      return prompts.map(function (prompt) {
        return { label: prompt.name, value: medianOf(runsOf(result, prompt.name), metric) };
      });
    }));
    nodes.push(h("h2", {}, ["Summary"]));
    nodes.push(table(["metric", "mean", "median", "p95", "min", "max"],
      Object.keys(METRIC_LABELS).filter(function (m) { return result.summary && result.summary[m]; })
        .map(function (m) {
          var x = result.summary[m];
          return [METRIC_LABELS[m], x.mean, x.median, x.p95, x.min, x.max];
        })));
    nodes.push(h("h2", {}, ["Per prompt"]));
    prompts.forEach(function (prompt) {
      nodes.push(h("h3", {}, [prompt.name]));
      var text = promptText(prompt);
      if (text) nodes.push(text);
      nodes.push(table(["run"].concat(RUN_COLUMNS.map(function (c) { return c[1]; })),
        runsOf(result, prompt.name).map(function (run) {
          return ["run " + run.run].concat(RUN_COLUMNS.map(function (c) {
            return isNumber(run[c[0]]) ? run[c[0]] : "-";
          }));
        })));
      var response = (result.responses || []).find(function (r) { return r.prompt === prompt.name; });
      var block = answer("Answer", response);
      if (block) nodes.push(block);
    });
    nodes = nodes.concat(failedRuns((result.failures || []).map(function (f) {
      return { who: null, failure: f };
    })));
    return nodes.concat(environment(result, result.options));
  }

  function render(root, result) {
    var nodes = Array.isArray(result.models) ? comparison(result) : benchmark(result);
    document.title = nodes[0].textContent;
    root.replaceChildren.apply(root, nodes);
    root.setAttribute("data-rendered", result.kind || "report");
  }

  function message(root, text, error) {
    root.replaceChildren(h("p", { class: error ? "error" : "empty" }, [text]));
  }

  // The page's other script (report_app.js) draws a saved report's data or the App view's.
  window.mcpOllamaReport = { render: render, message: message };
})();
