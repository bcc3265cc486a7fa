/**
 * Hand-written SVG charts for the planner report: bars, lines, tornado, histogram. Pure string
 * building with fixed number formatting, so the same input gives the same bytes.
 */

/** Escapes text for HTML and SVG. */
export function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** Groups thousands with commas, independent of locale. */
export function groupThousands(n: number): string {
  const neg = n < 0;
  const s = String(Math.round(Math.abs(n)));
  const out = s.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return neg ? `-${out}` : out;
}

/** "$1.2M", "-$350k", "$2.1B": short money labels for axes. */
export function shortUsd(x: number): string {
  const a = Math.abs(x);
  const sign = x < 0 ? "-" : "";
  if (a >= 1e9) return `${sign}$${(a / 1e9).toFixed(a >= 1e10 ? 0 : 1)}B`;
  if (a >= 1e6) return `${sign}$${(a / 1e6).toFixed(a >= 1e7 ? 0 : 1)}M`;
  if (a >= 1e3) return `${sign}$${(a / 1e3).toFixed(0)}k`;
  return `${sign}$${a.toFixed(0)}`;
}

const f1 = (x: number): string => (Math.round(x * 10) / 10).toFixed(1);

/** Round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) {
    const d = Math.abs(lo) > 0 ? Math.abs(lo) : 1;
    return niceTicks(lo - d, hi + d, count);
  }
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.floor(lo / step) * step; v <= hi + step * 1e-9; v += step)
    out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  if (out[out.length - 1]! < hi) out.push(out[out.length - 1]! + step);
  return out;
}

/** Plot frame shared by the charts. */
interface Frame {
  w: number;
  h: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

const FRAME: Frame = { w: 720, h: 300, left: 78, right: 16, top: 28, bottom: 44 };
/** Colours of the options, fixed so every chart agrees. */
export const COLOURS: Record<string, string> = {
  mining: "#d98e04",
  hosting: "#2f6fb3",
  gpuCloud: "#3b9d5d",
  hybrid: "#8a4fb8",
};

function open(title: string, f: Frame = FRAME): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${f.w} ${f.h}" width="${f.w}" height="${f.h}" role="img" aria-label="${esc(title)}" font-family="sans-serif" font-size="11">\n<text x="${f.left}" y="16" font-size="13" font-weight="bold">${esc(title)}</text>\n`;
}

function yAxis(ticks: number[], y: (v: number) => number, f: Frame, fmt: (v: number) => string): string {
  return ticks
    .map(
      (t) =>
        `<line x1="${f.left}" x2="${f.w - f.right}" y1="${f1(y(t))}" y2="${f1(y(t))}" stroke="${t === 0 ? "#444" : "#ddd"}"/><text x="${f.left - 6}" y="${f1(y(t) + 4)}" text-anchor="end">${esc(fmt(t))}</text>`,
    )
    .join("\n");
}

/** Grouped vertical bars: one group per label, one bar per series. */
export function groupedBars(
  title: string,
  labels: string[],
  series: { name: string; colour: string; values: number[] }[],
): string {
  const f = FRAME;
  const all = series.flatMap((s) => s.values).concat([0]);
  const ticks = niceTicks(Math.min(...all), Math.max(...all));
  const lo = ticks[0]!;
  const hi = ticks[ticks.length - 1]!;
  const ph = f.h - f.top - f.bottom;
  const y = (v: number): number => f.top + ((hi - v) / (hi - lo)) * ph;
  const gw = (f.w - f.left - f.right) / Math.max(1, labels.length);
  const bw = (gw * 0.8) / Math.max(1, series.length);
  let out = open(title) + yAxis(ticks, y, f, shortUsd) + "\n";
  labels.forEach((lab, i) => {
    const gx = f.left + i * gw + gw * 0.1;
    series.forEach((s, j) => {
      const v = s.values[i] ?? 0;
      const y0 = y(Math.max(0, v));
      const hgt = Math.abs(y(v) - y(0));
      out += `<rect x="${f1(gx + j * bw)}" y="${f1(y0)}" width="${f1(bw)}" height="${f1(hgt)}" fill="${s.colour}"><title>${esc(`${s.name} ${lab}: ${shortUsd(v)}`)}</title></rect>\n`;
    });
    out += `<text x="${f1(gx + gw * 0.4)}" y="${f.h - f.bottom + 14}" text-anchor="middle">${esc(lab)}</text>\n`;
  });
  out += legend(series, f);
  return out + "</svg>";
}

function legend(series: { name: string; colour: string }[], f: Frame): string {
  return series
    .map((s, i) => {
      const x = f.left + i * 130;
      return `<rect x="${x}" y="${f.h - 16}" width="10" height="10" fill="${s.colour}"/><text x="${x + 14}" y="${f.h - 7}">${esc(s.name)}</text>`;
    })
    .join("\n");
}

/** A line through points (x in [0, 1] as a share), with one point highlighted. */
export function shareLine(
  title: string,
  points: { x: number; y: number }[],
  highlight: number,
  xLabel: string,
): string {
  const f = FRAME;
  const ticks = niceTicks(Math.min(...points.map((p) => p.y), 0), Math.max(...points.map((p) => p.y), 0));
  const lo = ticks[0]!;
  const hi = ticks[ticks.length - 1]!;
  const pw = f.w - f.left - f.right;
  const ph = f.h - f.top - f.bottom;
  const x = (v: number): number => f.left + v * pw;
  const y = (v: number): number => f.top + ((hi - v) / (hi - lo)) * ph;
  let out = open(title) + yAxis(ticks, y, f, shortUsd) + "\n";
  for (let i = 0; i <= 10; i++)
    out += `<text x="${f1(x(i / 10))}" y="${f.h - f.bottom + 14}" text-anchor="middle">${i * 10}%</text>\n`;
  out += `<text x="${f1(f.left + pw / 2)}" y="${f.h - 8}" text-anchor="middle">${esc(xLabel)}</text>\n`;
  out += `<polyline fill="none" stroke="${COLOURS.hybrid}" stroke-width="2" points="${points.map((p) => `${f1(x(p.x))},${f1(y(p.y))}`).join(" ")}"/>\n`;
  points.forEach((p, i) => {
    const best = i === highlight;
    out += `<circle cx="${f1(x(p.x))}" cy="${f1(y(p.y))}" r="${best ? 6 : 3}" fill="${best ? "#c0392b" : COLOURS.hybrid}"><title>${esc(`${Math.round(p.x * 1000) / 10}% mining: ${shortUsd(p.y)}`)}</title></circle>\n`;
  });
  return out + "</svg>";
}

/** Tornado: horizontal bars from the base value to the low and high outcomes of each input. */
export function tornadoChart(
  title: string,
  base: number,
  bars: { input: string; lowLabel: string; highLabel: string; low: number; high: number }[],
): string {
  const rowH = 26;
  const f: Frame = {
    w: 720,
    h: 60 + Math.max(1, bars.length) * rowH,
    left: 170,
    right: 20,
    top: 28,
    bottom: 32,
  };
  const all = bars.flatMap((b) => [b.low, b.high]).concat([base]);
  const ticks = niceTicks(Math.min(...all), Math.max(...all));
  const lo = ticks[0]!;
  const hi = ticks[ticks.length - 1]!;
  const pw = f.w - f.left - f.right;
  const x = (v: number): number => f.left + ((v - lo) / (hi - lo)) * pw;
  let out = open(title, f);
  for (const t of ticks)
    out += `<line x1="${f1(x(t))}" x2="${f1(x(t))}" y1="${f.top}" y2="${f.h - f.bottom}" stroke="#eee"/><text x="${f1(x(t))}" y="${f.h - f.bottom + 14}" text-anchor="middle">${esc(shortUsd(t))}</text>\n`;
  bars.forEach((b, i) => {
    const yy = f.top + i * rowH + 4;
    const seg = (v: number, colour: string, label: string): string => {
      const a = Math.min(x(v), x(base));
      const wdt = Math.abs(x(v) - x(base));
      return `<rect x="${f1(a)}" y="${yy}" width="${f1(Math.max(wdt, 0.5))}" height="${rowH - 8}" fill="${colour}"><title>${esc(`${b.input} ${label}: ${shortUsd(v)}`)}</title></rect>`;
    };
    out += `<text x="${f.left - 6}" y="${yy + 13}" text-anchor="end">${esc(b.input)}</text>${seg(b.low, "#c0392b", b.lowLabel)}${seg(b.high, "#27ae60", b.highLabel)}\n`;
  });
  out += `<line x1="${f1(x(base))}" x2="${f1(x(base))}" y1="${f.top - 4}" y2="${f.h - f.bottom}" stroke="#000" stroke-width="1.5"/>\n`;
  out += `<text x="${f.w - f.right}" y="${f.h - 6}" text-anchor="end">red: input at its low value, green: at its high value; black line: base NPV ${esc(shortUsd(base))}</text>\n`;
  return out + "</svg>";
}

/** Histogram with markers (p5, p50, p95 ...). */
export function histogramChart(
  title: string,
  bins: { fromUsd: number; toUsd: number; count: number }[],
  markers: { label: string; value: number }[],
): string {
  const f = FRAME;
  const lo = bins[0]?.fromUsd ?? 0;
  const hiRaw = bins[bins.length - 1]?.toUsd ?? 1;
  const hi = hiRaw > lo ? hiRaw : lo + 1;
  const maxC = Math.max(1, ...bins.map((b) => b.count));
  const pw = f.w - f.left - f.right;
  const ph = f.h - f.top - f.bottom;
  const x = (v: number): number => f.left + ((v - lo) / (hi - lo)) * pw;
  const y = (c: number): number => f.top + (1 - c / maxC) * ph;
  const cTicks = niceTicks(0, maxC, 4).filter((t) => t <= maxC);
  let out = open(title) + yAxis(cTicks, y, f, (v) => String(v)) + "\n";
  for (const b of bins)
    out += `<rect x="${f1(x(b.fromUsd))}" y="${f1(y(b.count))}" width="${f1(Math.max(0.5, x(b.toUsd) - x(b.fromUsd) - 1))}" height="${f1(y(0) - y(b.count))}" fill="#7f8fa6"><title>${esc(`${shortUsd(b.fromUsd)} to ${shortUsd(b.toUsd)}: ${b.count}`)}</title></rect>\n`;
  const xt = niceTicks(lo, hi, 6).filter((t) => t >= lo && t <= hi);
  for (const t of xt)
    out += `<text x="${f1(x(t))}" y="${f.h - f.bottom + 14}" text-anchor="middle">${esc(shortUsd(t))}</text>\n`;
  markers.forEach((m, i) => {
    if (m.value < lo || m.value > hi) return;
    out += `<line x1="${f1(x(m.value))}" x2="${f1(x(m.value))}" y1="${f.top}" y2="${f.h - f.bottom}" stroke="${m.label === "0" ? "#000" : "#c0392b"}" stroke-dasharray="4 3"/><text x="${f1(x(m.value) + 3)}" y="${f.top + 10 + (i % 3) * 12}">${esc(m.label)}</text>\n`;
  });
  out += `<text x="${f1(f.left + pw / 2)}" y="${f.h - 8}" text-anchor="middle">NPV (USD), count of draws per bin</text>\n`;
  return out + "</svg>";
}
