// Service-system pages: the requirement builder (a nested task-graph editor writing the JSON live)
// and the run page (follows the run every 2 s while it runs).
(function () {
  "use strict";

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (k === "text") node.textContent = v;
      else if (k === "dataset") Object.assign(node.dataset, v);
      else node.setAttribute(k, v);
    });
    (children || []).forEach(c => node.appendChild(c));
    return node;
  }

  // ---------------------------------------------------------------- the builder
  const builder = document.getElementById("builder");
  if (builder) {
    const TYPES = JSON.parse(builder.dataset.types || "[]");
    const ERRORS = JSON.parse(builder.dataset.errors || "[]");
    const GROUPS = ["sequence", "parallel", "choice", "loop"];
    const LOCAL = [
      ["max_price", "Max. price"], ["max_time_h", "Max. time (h)"],
      ["min_reliability", "Min. reliability"], ["min_availability", "Min. availability"],
      ["near_lat", "Near: latitude"], ["near_lon", "Near: longitude"], ["radius_km", "Radius (km)"],
    ];
    const tree = document.getElementById("builder-tree");
    const area = document.getElementById("builder-json");
    const sync = document.getElementById("builder-sync");
    let counter = 0;
    let state = { globals: {}, weights: {}, root: group("sequence") };

    function group(kind) {
      return { kind: kind, children: [], probs: [], count: 2 };
    }
    function ids(n, out) {
      if (n.kind === "task") out.add(n.id);
      else n.children.forEach(c => ids(c, out));
      return out;
    }
    function task() {
      const taken = ids(state.root, new Set());
      do { counter += 1; } while (taken.has("task-" + counter));
      return { kind: "task", id: "task-" + counter, capability: TYPES.length ? TYPES[0].id : "", parameters: "", c: {} };
    }
    // a typed number when the field holds one, the text otherwise (the server says what is wrong with it)
    function value(raw) {
      const text = String(raw).trim();
      if (text === "") return undefined;
      const n = Number(text);
      return Number.isFinite(n) ? n : text;
    }
    function parameters(text) {
      const out = {};
      text.split(",").map(s => s.trim()).filter(Boolean).forEach(part => {
        const [name, unit] = part.split("=").map(s => s.trim());
        out[name] = unit ? unit : null;
      });
      return out;
    }

    // model -> requirement JSON
    function nodeJSON(n) {
      if (n.kind === "task") {
        const body = { id: n.id, capability: n.capability };
        const params = parameters(n.parameters || "");
        if (Object.keys(params).length) body.parameters = params;
        const c = {};
        ["max_price", "max_time_h", "min_reliability", "min_availability", "radius_km"].forEach(k => {
          const v = value(n.c[k] || "");
          if (v !== undefined) c[k] = v;
        });
        const lat = value(n.c.near_lat || ""), lon = value(n.c.near_lon || "");
        if (lat !== undefined || lon !== undefined) c.near = [lat === undefined ? null : lat, lon === undefined ? null : lon];
        if (Object.keys(c).length) body.constraints = c;
        return { task: body };
      }
      const kids = n.children.map(nodeJSON);
      if (n.kind === "sequence" || n.kind === "parallel") return { [n.kind]: kids };
      if (n.kind === "choice") return { choice: kids.map((k, i) => ({ p: value(n.probs[i] || "") ?? null, do: k })) };
      return { loop: { count: value(String(n.count)) ?? null, do: kids.length === 1 ? kids[0] : { sequence: kids } } };
    }
    function requirementJSON() {
      const doc = { name: state.globals.name || "" , graph: nodeJSON(state.root) };
      const c = {};
      ["deadline_h", "budget", "min_reliability", "min_availability"].forEach(k => {
        const v = value(state.globals[k] || "");
        if (v !== undefined) c[k] = v;
      });
      const currency = (state.globals.currency || "").trim().toUpperCase();
      if (currency) c.currency = currency;
      if (Object.keys(c).length) doc.constraints = c;
      const w = {};
      Object.entries(state.weights).forEach(([k, raw]) => {
        const v = value(raw);
        if (v !== undefined) w[k] = v;
      });
      if (Object.keys(w).length) doc.weights = w;
      return doc;
    }
    function write() {
      area.value = JSON.stringify(requirementJSON(), null, 2);
      sync.textContent = "Written by the editor.";
    }

    // requirement JSON -> model (throws on anything the editor cannot show)
    function fromNode(raw) {
      if (!raw || typeof raw !== "object" || Object.keys(raw).length !== 1) throw new Error("not a node");
      const kind = Object.keys(raw)[0], body = raw[kind];
      if (kind === "task") {
        const c = {};
        const given = body.constraints || {};
        ["max_price", "max_time_h", "min_reliability", "min_availability", "radius_km"].forEach(k => {
          if (given[k] !== undefined && given[k] !== null) c[k] = String(given[k]);
        });
        if (Array.isArray(given.near)) {
          c.near_lat = given.near[0] === null || given.near[0] === undefined ? "" : String(given.near[0]);
          c.near_lon = given.near[1] === null || given.near[1] === undefined ? "" : String(given.near[1]);
        }
        const params = Object.entries(body.parameters || {}).map(([k, u]) => (u ? k + "=" + u : k)).join(", ");
        return { kind: "task", id: String(body.id || ""), capability: String(body.capability || ""), parameters: params, c: c };
      }
      if (kind === "sequence" || kind === "parallel") {
        if (!Array.isArray(body)) throw new Error(kind + " is not a list");
        return Object.assign(group(kind), { children: body.map(fromNode) });
      }
      if (kind === "choice") {
        if (!Array.isArray(body)) throw new Error("choice is not a list");
        return Object.assign(group("choice"), {
          children: body.map(b => fromNode(b.do)),
          probs: body.map(b => (b.p === undefined || b.p === null ? "" : String(b.p))),
        });
      }
      if (kind === "loop") {
        const inner = fromNode(body.do);
        const kids = inner.kind === "sequence" ? inner.children : [inner];
        return Object.assign(group("loop"), { children: kids, count: body.count === undefined ? "" : String(body.count) });
      }
      throw new Error("unknown node " + kind);
    }
    function load(doc) {
      if (!doc || typeof doc !== "object" || Array.isArray(doc)) throw new Error("not an object");
      let root = doc.graph ? fromNode(doc.graph) : group("sequence");
      if (root.kind !== "sequence") root = Object.assign(group("sequence"), { children: [root] });
      const globals = { name: doc.name || "" };
      const c = doc.constraints || {};
      ["deadline_h", "budget", "currency", "min_reliability", "min_availability"].forEach(k => {
        if (c[k] !== undefined && c[k] !== null) globals[k] = String(c[k]);
      });
      const weights = {};
      Object.entries(doc.weights || {}).forEach(([k, v]) => { weights[k] = String(v); });
      state = { globals: globals, weights: weights, root: root };
      builder.querySelectorAll("[data-global]").forEach(input => { input.value = globals[input.dataset.global] || ""; });
      builder.querySelectorAll("[data-weight]").forEach(input => { input.value = weights[input.dataset.weight] || ""; });
      draw();
    }

    // drawing: every node carries the JSON path of its place, the one the server's problems name
    function input(label, val, onInput, attrs) {
      const box = el("input", Object.assign({ value: val === undefined ? "" : val }, attrs || {}));
      box.addEventListener("input", () => { onInput(box.value); write(); });
      return el("label", {}, [document.createTextNode(label + " "), box]);
    }
    function actions(n) {
      const row = el("div", { class: "actions" });
      ["task"].concat(GROUPS).forEach(kind => {
        const b = el("button", { type: "button", text: "+ " + kind, dataset: { add: kind } });
        b.addEventListener("click", () => {
          const child = kind === "task" ? task() : group(kind);
          if (kind !== "task") child.children.push(task());
          n.children.push(child);
          if (n.kind === "choice") n.probs.push("");
          problems = [];
          draw();
          write();
        });
        row.appendChild(b);
      });
      return row;
    }
    function drawNode(n, path, parent, index) {
      const box = el("div", { class: "node " + n.kind, dataset: { path: path, kind: n.kind } });
      const head = el("div", { class: "head" }, [el("strong", { text: n.kind === "task" ? "Task" : n.kind })]);
      if (parent) {
        const remove = el("button", { type: "button", class: "remove", text: "remove" });
        remove.addEventListener("click", () => {
          parent.children.splice(index, 1);
          if (parent.kind === "choice") parent.probs.splice(index, 1);
          problems = [];
          draw();
          write();
        });
        head.appendChild(remove);
      }
      box.appendChild(head);
      if (n.kind === "task") {
        const fields = el("div", { class: "fields" });
        fields.appendChild(input("Id", n.id, v => { n.id = v; }, { dataset: { field: "id" }, maxlength: "63" }));
        const select = el("select", { "data-field": "capability", class: "wide" });
        TYPES.forEach(t => select.appendChild(el("option", { value: t.id, text: t.label })));
        if (n.capability && !TYPES.some(t => t.id === n.capability)) {
          select.appendChild(el("option", { value: n.capability, text: n.capability + " (unknown)" }));
        }
        select.value = n.capability;
        select.addEventListener("change", () => { n.capability = select.value; write(); });
        fields.appendChild(el("label", {}, [document.createTextNode("Capability "), select]));
        fields.appendChild(input("Parameters (name=unit, …)", n.parameters, v => { n.parameters = v; },
          { dataset: { field: "parameters" }, class: "wide" }));
        LOCAL.forEach(([k, label]) => {
          fields.appendChild(input(label, n.c[k], v => { n.c[k] = v; }, { dataset: { field: k }, inputmode: "decimal" }));
        });
        box.appendChild(fields);
        return box;
      }
      if (n.kind === "loop") {
        head.appendChild(input("count", n.count, v => { n.count = v; }, { dataset: { field: "count" }, inputmode: "numeric" }));
      }
      const kids = el("div", { class: "children" });
      n.children.forEach((child, i) => {
        let childPath;
        if (n.kind === "choice") {
          childPath = path + "/choice/" + i + "/do";
          kids.appendChild(input("Branch " + (i + 1) + " probability", n.probs[i], v => { n.probs[i] = v; },
            { dataset: { field: "p", branch: String(i) }, inputmode: "decimal" }));
        } else if (n.kind === "loop") {
          // one step is the loop's body itself, several are a sequence
          childPath = n.children.length === 1 ? path + "/loop/do" : path + "/loop/do/sequence/" + i;
        } else {
          childPath = path + "/" + n.kind + "/" + i;
        }
        kids.appendChild(drawNode(child, childPath, n, i));
      });
      box.appendChild(kids);
      box.appendChild(actions(n));
      return box;
    }
    // the problems of the refused requirement, each on the deepest node its JSON path names
    let problems = ERRORS.map(e => String(e).split(":")[0]);
    function mark() {
      const nodes = Array.from(tree.querySelectorAll(".node"));
      problems.forEach(path => {
        let best = null;
        nodes.forEach(n => {
          const p = n.dataset.path;
          if ((path === p || path.startsWith(p + "/")) && (!best || p.length > best.dataset.path.length)) best = n;
        });
        if (best) best.classList.add("has-error");
      });
    }
    function draw() {
      tree.replaceChildren(drawNode(state.root, "graph", null, 0));
      mark();
    }

    builder.querySelectorAll("[data-global]").forEach(box => box.addEventListener("input", () => {
      state.globals[box.dataset.global] = box.value;
      write();
    }));
    builder.querySelectorAll("[data-weight]").forEach(box => box.addEventListener("input", () => {
      state.weights[box.dataset.weight] = box.value;
      write();
    }));
    area.addEventListener("input", () => { sync.textContent = "Edited by hand: the editor shows it again with the button below."; });
    document.getElementById("builder-load").addEventListener("click", () => {
      try {
        load(JSON.parse(area.value));
        sync.textContent = "Shown in the editor.";
      } catch (e) {
        sync.textContent = "The editor cannot show this JSON (" + e.message + "); it is sent as it is.";
      }
    });
    const file = document.getElementById("requirement-file");
    file.addEventListener("change", () => {
      if (!file.files.length) return;
      const reader = new FileReader();
      reader.onload = () => {
        area.value = String(reader.result);
        try {
          load(JSON.parse(area.value));
          sync.textContent = "Loaded from " + file.files[0].name + ".";
        } catch (e) {
          sync.textContent = "Loaded from " + file.files[0].name + " (the editor cannot show it: " + e.message + ").";
        }
      };
      reader.readAsText(file.files[0]);
    });
    // start from what the page holds (the sample, or what was sent and refused), without rewriting it
    try {
      load(JSON.parse(area.value));
    } catch (e) {
      draw();
      sync.textContent = "The editor cannot show this JSON (" + e.message + ").";
    }
  }

  // ---------------------------------------------------------------- the run page
  const runEl = document.getElementById("run-live");
  if (runEl && runEl.dataset.status === "running") {
    const url = "/portal/runs/" + encodeURIComponent(runEl.dataset.run) + "/snapshot";
    const RATED = JSON.parse(runEl.dataset.rated || "[]");

    function rows(tbody, list) {
      tbody.replaceChildren(...list.map(values => el("tr", {}, values.map(v => el("td", { text: v })))));
    }

    function show(run) {
      const status = document.getElementById("run-status");
      status.textContent = run.status;
      status.className = "state s-" + run.status;
      document.getElementById("run-progress").max = Math.max(1, run.progress.total);
      document.getElementById("run-progress").value = run.progress.done;
      document.getElementById("run-progress-text").textContent = run.progress.done + " of " + run.progress.total + " done";
      let missing = false;
      run.tasks.forEach(t => {
        const tr = document.querySelector('tr[data-row="' + t.id + '"]');
        if (!tr) { missing = true; return; }
        const state = tr.querySelector(".state");
        state.textContent = t.state + (t.late ? " (late)" : "");
        state.className = "state s-" + t.state;
        tr.querySelector(".order-status").textContent = t.order_status || "";
        tr.querySelector(".reason").textContent = t.reason || "";
        const form = document.querySelector('form.rate[data-row="' + t.id + '"]');
        if (form) form.hidden = !(RATED.includes(t.state) && !t.rating);
      });
      rows(document.querySelector("#run-history tbody"),
        run.history.map(h => [String(h.seq), h.at.slice(0, 19), h.kind, h.task || "", h.message]));
      const alarms = run.history.filter(h => h.kind === "sla");
      rows(document.querySelector("#run-alarms tbody"), alarms.length
        ? alarms.map(h => [h.at.slice(0, 19), h.task || "run", h.message]) : [["", "", "No SLA alarms."]]);
      if (run.status !== "running") {
        const cancel = document.getElementById("run-cancel");
        if (cancel) cancel.hidden = true;
      }
      return missing;
    }

    async function poll() {
      try {
        const r = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
        if (r.ok) {
          const run = await r.json();
          // a re-selected task brings a new attempt: draw the page again to show it
          if (show(run)) { window.location.reload(); return; }
          if (run.status !== "running") { runEl.dataset.status = run.status; return; }
        }
      } catch (e) {
        // the platform may be restarting: try again on the next tick
      }
      setTimeout(poll, 2000);
    }
    setTimeout(poll, 2000);
  }
})();
