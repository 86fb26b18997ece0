// A small line chart on <canvas>: a fixed window of the latest points per series, y axis from 0 to a
// rounded maximum, redrawn on every push and on resize. Crisp on high-density screens. Given times (a
// history), it draws an x axis of HH:MM labels on round minutes instead.
//
//   const chart = new LineChart(canvas, { series: [{ label: 'in', color: '#2563eb' }], points: 60 });
//   chart.push([12.5]);
//   chart.setHistory([t0, t0 + 60_000, …], [[3, 0, …]]);   // one value per series per minute, oldest first

/** Minutes between time-axis labels: the first that leaves room for each label. */
const LABEL_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 180, 240, 360, 720, 1440];

/**
 * The indexes of `times` (ms, one per minute) that get an HH:MM label: local round minutes (every 10 min, every
 * hour, …) so that at most `maxLabels` fit.
 */
export function timeLabelIndexes(times, maxLabels) {
  if (times.length === 0 || maxLabels < 1) return [];
  const spanMinutes = (times[times.length - 1] - times[0]) / 60_000 + 1;
  const step = LABEL_STEPS.find((minutes) => spanMinutes / minutes <= maxLabels) ?? 1440;
  const indexes = [];
  times.forEach((at, index) => {
    const date = new Date(at);
    if ((date.getHours() * 60 + date.getMinutes()) % step === 0) indexes.push(index);
  });
  return indexes;
}

/** 14:05: a time-axis label, local time. */
export function formatClock(at) {
  const date = new Date(at);
  return `${String(date.getHours()).padStart(2, '0')}:${String(date.getMinutes()).padStart(2, '0')}`;
}

/** 0, 1, 2, 5, 10, 20, 50, … : the smallest "nice" number ≥ n. */
export function niceCeiling(n) {
  if (n <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(n));
  for (const step of [1, 2, 5, 10]) if (step * magnitude >= n) return step * magnitude;
  return 10 * magnitude;
}

export class LineChart {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {{ series: Array<{ label: string, color: string }>, points?: number, unit?: string, format?: (n: number) => string }} options
   *   format: how ticks and legend values are written (e.g. bytes); by default 1.5k.
   */
  constructor(canvas, options) {
    this.canvas = canvas;
    this.series = options.series;
    this.points = options.points ?? 60;
    this.unit = options.unit ?? '';
    this.format = options.format;
    /** With a history: the time (ms) of each point, and the legend shows each series' total. */
    this.times = undefined;
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

  /** Replaces the points with a history: `times` (ms, oldest first) and one array of values per series. */
  setHistory(times, values) {
    this.times = times;
    this.points = times.length;
    this.values = values;
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
    const tick = this.format ?? formatTick;
    const labelWidth = Math.max(...[0, 0.5, 1].map((f) => g.measureText(tick(max * f)).width)) + 8;
    // The legend: the latest value of each series, or its total over a history; wraps on narrow charts.
    const legend = [];
    let legendX = labelWidth;
    let legendRow = 0;
    this.series.forEach((series, i) => {
      const shown = this.times ? this.values[i].reduce((sum, v) => sum + (v ?? 0), 0) : this.values[i].at(-1);
      const text = `${series.label} ${shown === undefined || shown === null ? '–' : this.format ? this.format(shown) : formatValue(shown)}${this.unit}`;
      const itemWidth = 14 + g.measureText(text).width + 16;
      if (legendX > labelWidth && legendX + itemWidth - 16 > width) {
        legendX = labelWidth;
        legendRow++;
      }
      legend.push({ series, text, x: legendX, y: 3 + legendRow * 16 });
      legendX += itemWidth;
    });
    const area = { left: labelWidth, top: 22 + legendRow * 16, right: width - 6, bottom: height - (this.times ? 22 : 6) };
    const plotWidth = area.right - area.left;
    const plotHeight = area.bottom - area.top;
    const step = plotWidth / Math.max(1, this.points - 1);

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
      g.fillText(tick(max * fraction), area.left - 4, y);
    }

    // Legend.
    g.textAlign = 'left';
    g.textBaseline = 'top';
    for (const { series, text, x, y } of legend) {
      g.fillStyle = series.color;
      g.fillRect(x, y + 1, 10, 10);
      g.fillStyle = ink;
      g.fillText(text, x + 14, y);
    }

    // The time axis: HH:MM under round minutes, each label kept inside the chart.
    if (this.times) {
      const labelSpace = g.measureText('00:00').width + 24;
      const labels = [];
      g.textBaseline = 'top';
      g.textAlign = 'center';
      for (const index of timeLabelIndexes(this.times, Math.floor(plotWidth / labelSpace))) {
        const px = Math.round(area.left + index * step) + 0.5;
        const text = formatClock(this.times[index]);
        labels.push(text);
        const half = g.measureText(text).width / 2;
        g.strokeStyle = grid;
        g.beginPath();
        g.moveTo(px, area.bottom);
        g.lineTo(px, area.bottom + 4);
        g.stroke();
        g.fillStyle = ink;
        g.fillText(text, Math.min(Math.max(px, area.left + half), area.right - half), area.bottom + 6);
      }
      // What the axis says, readable without pixels (tests, and a check that a chart drew at all).
      canvas.dataset.timeLabels = labels.join(' ');
    }

    // Lines: the newest point at the right edge.
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
