// cnnviz's step player: a convolution or a pooling drawn on canvases, played in the browser.
// The data comes from cnnviz.figures.animation.player (StepPlayer.data()); nothing here talks to
// the server, so Play, the slider and the arrow keys cost the server nothing.

const MIN_FONT = 10; // px: smaller numbers are not written (the colour and the hover still show)
const GAP = 18; // px between panels
const players = new WeakMap(); // parentElement -> {signature, step, stop}

function cellText(v) {
  // The same rule as cnnviz.figures.animation.cell_text, for the products computed here.
  if (!Number.isFinite(v)) return v > 0 ? "∞" : "−∞";
  let text;
  if (Number.isInteger(v) && Math.abs(v) < 1e4) text = String(v);
  else if (Math.abs(v) < 10) text = v.toFixed(2);
  else text = Number(v.toPrecision(3)).toString();
  return text.replace("-", "−");
}

function paren(v) {
  const t = cellText(v);
  return v < 0 ? `(${t})` : t;
}

function hexToRgb(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

function colourOf(panel, v) {
  const stops = panel.rgb;
  const t = Math.min(1, Math.max(0, (v - panel.low) / (panel.high - panel.low || 1)));
  const x = t * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const c = stops[i].map((a, k) => Math.round(a + f * (stops[i + 1][k] - a)));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

function fontFor(texts, cell, lines) {
  let longest = 2;
  for (const row of texts) for (const t of row) longest = Math.max(longest, t.length);
  return Math.floor(Math.min(30, (0.95 * cell) / (0.56 * longest), (0.8 * cell) / (1.3 * lines)));
}

function equationInto(element, html) {
  // Our own text with <br> and <b> only: built as nodes, never parsed as HTML.
  element.replaceChildren();
  html.split("<br>").forEach((line) => {
    const div = document.createElement("div");
    line.split(/(<b>.*?<\/b>)/).forEach((part) => {
      if (part.startsWith("<b>")) {
        const b = document.createElement("b");
        b.textContent = part.slice(3, -4);
        div.appendChild(b);
      } else if (part) div.appendChild(document.createTextNode(part));
    });
    element.appendChild(div);
  });
}

function build(data) {
  const root = document.createElement("div");
  root.className = "cnnviz-player";
  root.tabIndex = 0;
  root.setAttribute("data-testid", "stepPlayer");
  root.setAttribute("role", "group");
  root.setAttribute("aria-label", "Step-by-step animation");
  const title = document.createElement("div");
  title.className = "title";
  title.textContent = data.title;
  const row = document.createElement("div");
  row.className = "panels";
  const panels = data.panels.map((p) => {
    const figure = document.createElement("figure");
    const caption = document.createElement("figcaption");
    caption.textContent = p.title;
    const canvas = document.createElement("canvas");
    canvas.setAttribute("data-role", p.role);
    figure.append(caption, canvas);
    row.appendChild(figure);
    return { ...p, canvas, rgb: p.colours.map(hexToRgb), rows: p.values.length,
             cols: p.values[0].length, cell: 10 };
  });
  const equation = document.createElement("div");
  equation.className = "equation";
  equation.setAttribute("aria-live", "polite");
  const controls = document.createElement("div");
  controls.className = "controls";
  const play = document.createElement("button");
  play.className = "play";
  play.textContent = "▶ Play";
  const prev = document.createElement("button");
  prev.className = "prev";
  prev.textContent = "◀";
  prev.title = "Previous step (←)";
  const next = document.createElement("button");
  next.className = "next";
  next.textContent = "▶";
  next.title = "Next step (→)";
  const slider = document.createElement("input");
  slider.type = "range";
  slider.min = "0";
  slider.max = String(data.labels.length - 1);
  slider.value = "0";
  slider.setAttribute("aria-label", "Step");
  const where = document.createElement("span");
  where.className = "where";
  controls.append(play, prev, next, slider, where);
  const note = document.createElement("div");
  note.className = "note";
  note.textContent = data.note
    ? data.note
    : "Space plays or pauses; ← → step; hover a cell for its value.";
  root.append(title, row, equation, controls, note);
  return { root, panels, equation, play, prev, next, slider, where };
}

function products(data, input, kernel, box) {
  const k = data.kernel;
  const out = [];
  for (let u = 0; u < k; u++) {
    const row = [];
    for (let v = 0; v < k; v++) {
      const x = input.values[box[0] + data.dilation * u][box[1] + data.dilation * v];
      const w = kernel.values[u][v];
      const xv = x === null ? 0 : x;
      row.push({ x: xv, w, p: xv * w });
    }
    out.push(row);
  }
  return out;
}

function drawGrid(panel, values, texts, lines, padText, drawText) {
  const ctx = panel.ctx;
  const cell = panel.cell;
  const gap = cell >= 10 ? 2 : cell >= 5 ? 1 : 0;
  ctx.clearRect(0, 0, panel.cols * cell, panel.rows * cell);
  const font = fontFor(texts, cell, lines);
  panel.canvas.dataset.font = String(font >= MIN_FONT ? font : 0); // for tests: 0 = no numbers
  for (let r = 0; r < panel.rows; r++) {
    for (let c = 0; c < panel.cols; c++) {
      const v = values[r][c];
      ctx.fillStyle = v === null ? panel.padColour : colourOf(panel, v);
      ctx.fillRect(c * cell + gap / 2, r * cell + gap / 2, cell - gap, cell - gap);
    }
  }
  if (font < MIN_FONT) return false;
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  for (let r = 0; r < panel.rows; r++) {
    for (let c = 0; c < panel.cols; c++) {
      const v = values[r][c];
      const cx = c * cell + cell / 2;
      const cy = r * cell + cell / 2;
      if (v === null) {
        ctx.fillStyle = "#8a8a8a";
        ctx.font = `${font}px ${panel.family}`;
        ctx.fillText(padText, cx, cy);
      } else drawText(ctx, r, c, cx, cy, font);
    }
  }
  return true;
}

function strokeBox(ctx, cell, top, left, h, w, colour, width) {
  ctx.strokeStyle = colour;
  ctx.lineWidth = width;
  ctx.strokeRect(left * cell + width / 2, top * cell + width / 2, w * cell - width, h * cell - width);
}

export default function (component) {
  const { data, parentElement } = component;
  const signature = JSON.stringify(data);
  const previous = players.get(parentElement);
  if (previous) previous.stop();
  parentElement.querySelectorAll(".cnnviz-player").forEach((old) => old.remove());
  const keepStep = previous && previous.signature === signature ? previous.step : 0;

  const ui = build(data);
  parentElement.appendChild(ui.root);
  const family = getComputedStyle(ui.root).fontFamily || "sans-serif";
  const input = ui.panels.find((p) => p.role === "input");
  const kernel = ui.panels.find((p) => p.role === "kernel");
  const n = data.labels.length;
  let step = Math.min(keepStep, n - 1);
  let timer = null;

  function layout() {
    const width = ui.root.clientWidth || 800;
    const widest = Math.max(...ui.panels.map((p) => p.cols));
    const weights = ui.panels.map((p) =>
      Math.max(3, p.cols, (p.role === "products" ? 0.45 : 0.3) * widest));
    const room = width - GAP * (ui.panels.length - 1) - 4;
    const total = weights.reduce((a, b) => a + b, 0);
    // A presenter's page sets a smaller share of the window (CSS --cnnviz-player-height).
    const share = parseFloat(getComputedStyle(ui.root).getPropertyValue("--cnnviz-player-height"));
    const tallest = Math.max(160, Math.min(460, window.innerHeight * (share || 0.55)));
    ui.panels.forEach((p, i) => {
      const across = (room * weights[i]) / total;
      p.cell = Math.max(3, Math.floor(Math.min(across / p.cols, tallest / p.rows, 84)));
      const dpr = window.devicePixelRatio || 1;
      p.canvas.width = Math.round(p.cols * p.cell * dpr);
      p.canvas.height = Math.round(p.rows * p.cell * dpr);
      p.canvas.style.width = `${p.cols * p.cell}px`;
      p.canvas.style.height = `${p.rows * p.cell}px`;
      p.canvas.parentElement.style.width = `${Math.max(p.cols * p.cell, 60)}px`;
      p.ctx = p.canvas.getContext("2d");
      p.ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      p.family = family;
      p.padColour = data.colours.pad;
    });
    draw();
  }

  function drawStatic(p, box, cell) {
    drawGrid(p, p.values, p.texts, 1, p.pad_text, (ctx, r, c, cx, cy, font) => {
      ctx.fillStyle = "#1f1f1f";
      ctx.font = `${font}px ${family}`;
      ctx.fillText(p.texts[r][c], cx, cy);
    });
    if (p.role === "input") {
      strokeBox(p.ctx, p.cell, box[0], box[1], box[2], box[3], data.colours.window,
                Math.max(2, Math.min(5, p.cell / 6)));
      if (data.kind === "conv" && data.dilation > 1) {
        p.ctx.fillStyle = data.colours.window;
        for (let u = 0; u < data.kernel; u++) for (let v = 0; v < data.kernel; v++) {
          const r = box[0] + data.dilation * u;
          const c = box[1] + data.dilation * v;
          p.ctx.beginPath();
          p.ctx.arc((c + 0.5) * p.cell, (r + 0.2) * p.cell, Math.max(2, p.cell / 9), 0, 7);
          p.ctx.fill();
        }
      }
      if (data.kept.length) {
        const [r, c] = data.kept[step];
        p.ctx.strokeStyle = data.colours.cell;
        p.ctx.lineWidth = Math.max(2, p.cell / 10);
        p.ctx.beginPath();
        p.ctx.arc((c + 0.5) * p.cell, (r + 0.5) * p.cell, p.cell * 0.42, 0, 7);
        p.ctx.stroke();
      }
    }
    if (p.role === "output") {
      const [i, j] = cell;
      p.ctx.fillStyle = "rgba(255,255,255,0.9)";
      p.ctx.fillRect((j + 1) * p.cell, i * p.cell, (p.cols - j - 1) * p.cell, p.cell);
      p.ctx.fillRect(0, (i + 1) * p.cell, p.cols * p.cell, (p.rows - i - 1) * p.cell);
      strokeBox(p.ctx, p.cell, i, j, 1, 1, data.colours.cell, Math.max(2, Math.min(5, p.cell / 6)));
    }
  }

  function drawProducts(p, box) {
    const grid = products(data, input, kernel, box);
    const values = grid.map((row) => row.map((q) => q.p));
    const both = grid.map((row) => row.map((q) => `${paren(q.x)}×${paren(q.w)}`));
    const alone = grid.map((row) => row.map((q) => cellText(q.p)));
    const twoLines = fontFor(both, p.cell, 2) >= 13;
    p.shown = values;
    p.canvas.dataset.values = JSON.stringify(values); // what a test reads back
    drawGrid(p, values, twoLines ? both : alone, twoLines ? 2 : 1, "", (ctx, r, c, cx, cy, font) => {
      ctx.fillStyle = "#1f1f1f";
      if (twoLines) {
        ctx.font = `${Math.round(font * 0.8)}px ${family}`;
        ctx.fillText(both[r][c], cx, cy - font * 0.55);
        ctx.font = `bold ${font}px ${family}`;
        ctx.fillText(alone[r][c], cx, cy + font * 0.6);
      } else {
        ctx.font = `bold ${font}px ${family}`;
        ctx.fillText(alone[r][c], cx, cy);
      }
    });
  }

  function draw() {
    const box = data.boxes[step];
    const cell = data.cells[step];
    ui.panels.forEach((p) => (p.role === "products" ? drawProducts(p, box) : drawStatic(p, box, cell)));
    equationInto(ui.equation, data.equations[step]);
    ui.slider.value = String(step);
    ui.where.textContent = `output cell (row, col) = ${cell[0]}, ${cell[1]}` +
      `  ·  step ${step + 1} of ${n}`;
    ui.root.dataset.step = String(step);
    ui.root.dataset.label = data.labels[step];
    ui.root.dataset.window = box.join(",");
    const state = players.get(parentElement);
    if (state) state.step = step;
  }

  function show(i) {
    step = Math.max(0, Math.min(n - 1, i));
    draw();
  }

  function pause() {
    if (timer !== null) clearInterval(timer);
    timer = null;
    ui.play.textContent = "▶ Play";
    ui.root.dataset.playing = "false";
  }

  function play() {
    if (step >= n - 1) show(0);
    ui.play.textContent = "❚❚ Pause";
    ui.root.dataset.playing = "true";
    timer = setInterval(() => (step >= n - 1 ? pause() : show(step + 1)), data.frame_ms);
  }

  ui.play.onclick = () => (timer === null ? play() : pause());
  ui.prev.onclick = () => { pause(); show(step - 1); };
  ui.next.onclick = () => { pause(); show(step + 1); };
  ui.slider.oninput = () => { pause(); show(Number(ui.slider.value)); };
  ui.root.onkeydown = (event) => {
    if (event.target === ui.slider) return;
    if (event.key === "ArrowRight") { pause(); show(step + 1); event.preventDefault(); }
    else if (event.key === "ArrowLeft") { pause(); show(step - 1); event.preventDefault(); }
    else if (event.key === " ") { ui.play.onclick(); event.preventDefault(); }
  };
  ui.panels.forEach((p) => {
    p.canvas.onmousemove = (event) => {
      const r = Math.floor(event.offsetY / p.cell);
      const c = Math.floor(event.offsetX / p.cell);
      const grid = p.role === "products" ? p.shown : p.values;
      if (!grid || r < 0 || c < 0 || r >= p.rows || c >= p.cols) return;
      const v = grid[r][c];
      p.canvas.title = v === null ? "padding" : `row ${r}, col ${c}: ${cellText(v)}`;
    };
  });

  let laidOut = -1;
  const observer = new ResizeObserver(() => {
    if (ui.root.clientWidth !== laidOut) { laidOut = ui.root.clientWidth; layout(); }
  });
  observer.observe(ui.root);
  const state = { signature, step, stop: () => { pause(); observer.disconnect(); } };
  players.set(parentElement, state);
  layout();
  return () => {
    state.stop();
    if (players.get(parentElement) === state) players.delete(parentElement);
  };
}
