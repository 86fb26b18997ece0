// A small line chart on <canvas>: a fixed window of the latest points per series, y axis from 0 to a
// rounded maximum, redrawn on every push and on resize. Crisp on high-density screens.
//
//   const chart = new LineChart(canvas, { series: [{ label: 'in', color: '#2563eb' }], points: 60 });
//   chart.push([12.5]);

/** 0, 1, 2, 5, 10, 20, 50, … : the smallest "nice" number ≥ n. */
export function niceCeiling(n) {
  if (n <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(n));
  for (const step of [1, 2, 5, 10]) if (step * magnitude >= n) return step * magnitude;
  return 10 * magnitude;
}

export class LineChart {
  /** @param {HTMLCanvasElement} canvas @param {{ series: Array<{ label: string, color: string }>, points?: number, unit?: string }} options */
  constructor(canvas, options) {
    this.canvas = canvas;
    this.series = options.series;
    this.points = options.points ?? 60;
    this.unit = options.unit ?? '';
    /** One array of values per series; null is a gap. */
    this.values = this.series.map(() => []);
    this.observer = new ResizeObserver(() => this.draw());
    this.observer.observe(canvas);
  }

  push(values) {
    values.forEach((value, i) => {
      const line = this.values[i];
      line.push(value);
      if (line.length > this.points) line.shift();
    });
    this.draw();
  }

  dispose() {
    this.observer.disconnect();
  }

  draw() {
    const canvas = this.canvas;
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    if (width === 0 || height === 0) return; // hidden
    if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
    }
    const g = canvas.getContext('2d');
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, width, height);

    const style = getComputedStyle(canvas);
    const ink = style.color || '#333';
    const grid = style.getPropertyValue('--grid').trim() || 'rgba(0,0,0,0.1)';
    const font = `12px ${style.fontFamily || 'sans-serif'}`;
    const max = niceCeiling(Math.max(0, ...this.values.flat().filter((v) => v !== null)));

    g.font = font;
    const labelWidth = Math.max(...[0, 0.5, 1].map((f) => g.measureText(formatTick(max * f)).width)) + 8;
    const area = { left: labelWidth, top: 22, right: width - 6, bottom: height - 6 };
    const plotWidth = area.right - area.left;
    const plotHeight = area.bottom - area.top;

    // Grid lines and y labels at 0, max/2, max.
    g.strokeStyle = grid;
    g.fillStyle = ink;
    g.lineWidth = 1;
    g.textAlign = 'right';
    g.textBaseline = 'middle';
    for (const fraction of [0, 0.5, 1]) {
      const y = Math.round(area.bottom - fraction * plotHeight) + 0.5;
      g.beginPath();
      g.moveTo(area.left, y);
      g.lineTo(area.right, y);
      g.stroke();
      g.fillText(formatTick(max * fraction), area.left - 4, y);
    }

    // Legend with the latest values.
    g.textAlign = 'left';
    g.textBaseline = 'top';
    let x = area.left;
    this.series.forEach((series, i) => {
      const latest = this.values[i].at(-1);
      const text = `${series.label} ${latest === undefined || latest === null ? '–' : formatValue(latest)}${this.unit}`;
      g.fillStyle = series.color;
      g.fillRect(x, 4, 10, 10);
      g.fillStyle = ink;
      g.fillText(text, x + 14, 3);
      x += 14 + g.measureText(text).width + 16;
    });

    // Lines: the newest point at the right edge.
    const step = plotWidth / Math.max(1, this.points - 1);
    g.lineWidth = 2;
    g.lineJoin = 'round';
    this.series.forEach((series, i) => {
      const line = this.values[i];
      const offset = this.points - line.length;
      g.strokeStyle = series.color;
      g.beginPath();
      let drawing = false;
      line.forEach((value, j) => {
        if (value === null) {
          drawing = false;
          return;
        }
        const px = area.left + (offset + j) * step;
        const py = area.bottom - (value / max) * plotHeight;
        if (drawing) g.lineTo(px, py);
        else g.moveTo(px, py);
        drawing = true;
      });
      g.stroke();
      // The latest value as a dot, so a fresh chart with one point shows something.
      const last = line.at(-1);
      if (last !== undefined && last !== null) {
        g.fillStyle = series.color;
        g.beginPath();
        g.arc(area.right, area.bottom - (last / max) * plotHeight, 3, 0, 2 * Math.PI);
        g.fill();
      }
    });
  }
}

function formatTick(n) {
  return n >= 1000 ? `${+(n / 1000).toFixed(1)}k` : String(+n.toFixed(1));
}

function formatValue(n) {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}
