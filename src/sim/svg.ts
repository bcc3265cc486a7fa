/** A line series for an SVG chart. */
export interface Line {
  name: string;
  xs: ArrayLike<number>;
  ys: ArrayLike<number>;
}

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"];

/** Escapes text for HTML/SVG. */
export function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function ticks(lo: number, hi: number, log: boolean): number[] {
  if (log) {
    const out: number[] = [];
    for (let e = Math.floor(Math.log10(Math.max(lo, 1e-9))); 10 ** e <= hi * 1.0001; e++)
      if (10 ** e >= lo) out.push(10 ** e);
    return out;
  }
  const step = 10 ** Math.floor(Math.log10((hi - lo) / 4 || 1));
  const k = [1, 2, 5, 10].find((m) => (hi - lo) / (m * step) <= 6) ?? 10;
  const out: number[] = [];
  for (let v = Math.ceil(lo / (k * step)) * k * step; v <= hi + 1e-9; v += k * step) out.push(v);
  return out;
}

const fmt = (v: number): string =>
  Math.abs(v) >= 1e6 ? `${v / 1e6}M` : Math.abs(v) >= 1e3 ? `${v / 1e3}k` : `${Math.round(v * 100) / 100}`;

/** A line chart as an inline SVG string; `logX` draws the x axis in log scale. */
export function lineChart(
  title: string,
  xLabel: string,
  yLabel: string,
  lines: Line[],
  opts: { logX?: boolean; yMax?: number } = {},
): string {
  const W = 640;
  const H = 320;
  const L = 60;
  const R = 150;
  const T = 30;
  const B = 45;
  let x0 = Infinity;
  let x1 = -Infinity;
  let y1 = opts.yMax ?? -Infinity;
  for (const l of lines)
    for (let i = 0; i < l.xs.length; i++) {
      const x = l.xs[i]!;
      if (opts.logX && x <= 0) continue;
      x0 = Math.min(x0, x);
      x1 = Math.max(x1, x);
      if (opts.yMax === undefined) y1 = Math.max(y1, l.ys[i]!);
    }
  if (!Number.isFinite(x0)) return `<p>${esc(title)}: no data</p>`;
  if (x1 === x0) x1 = x0 + 1;
  if (!(y1 > 0)) y1 = 1;
  const tx = opts.logX ? (x: number) => Math.log10(Math.max(x, x0)) : (x: number) => x;
  const sx = (x: number): number => L + ((tx(x) - tx(x0)) / (tx(x1) - tx(x0))) * (W - L - R);
  const sy = (y: number): number => H - B - (y / y1) * (H - T - B);
  const parts: string[] = [];
  parts.push(
    `<text x="${W / 2 - R / 2}" y="18" text-anchor="middle" font-weight="bold">${esc(title)}</text>`,
  );
  parts.push(
    `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#333"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#333"/>`,
  );
  for (const v of ticks(x0, x1, !!opts.logX))
    parts.push(
      `<line x1="${sx(v)}" y1="${H - B}" x2="${sx(v)}" y2="${H - B + 4}" stroke="#333"/><text x="${sx(v)}" y="${H - B + 16}" text-anchor="middle" font-size="11">${fmt(v)}</text>`,
    );
  for (const v of ticks(0, y1, false))
    parts.push(
      `<line x1="${L}" y1="${sy(v)}" x2="${W - R}" y2="${sy(v)}" stroke="#eee"/><text x="${L - 5}" y="${sy(v) + 4}" text-anchor="end" font-size="11">${fmt(v)}</text>`,
    );
  parts.push(
    `<text x="${(L + W - R) / 2}" y="${H - 8}" text-anchor="middle" font-size="12">${esc(xLabel)}</text>`,
  );
  parts.push(
    `<text transform="translate(14 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle" font-size="12">${esc(yLabel)}</text>`,
  );
  lines.forEach((l, k) => {
    const c = COLORS[k % COLORS.length]!;
    const pts: string[] = [];
    for (let i = 0; i < l.xs.length; i++) {
      if (opts.logX && l.xs[i]! <= 0) continue;
      pts.push(`${sx(l.xs[i]!).toFixed(1)},${sy(l.ys[i]!).toFixed(1)}`);
    }
    parts.push(`<polyline fill="none" stroke="${c}" stroke-width="1.6" points="${pts.join(" ")}"/>`);
    parts.push(
      `<rect x="${W - R + 10}" y="${T + k * 18}" width="12" height="3" fill="${c}"/><text x="${W - R + 28}" y="${T + k * 18 + 5}" font-size="12">${esc(l.name)}</text>`,
    );
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">${parts.join("")}</svg>`;
}

/** A grouped bar chart: one group per category, one bar per series. */
export function barChart(
  title: string,
  yLabel: string,
  categories: string[],
  series: { name: string; values: number[] }[],
): string {
  const W = 640;
  const H = 320;
  const L = 60;
  const R = 150;
  const T = 30;
  const B = 60;
  const yMax = Math.max(1, ...series.flatMap((s) => s.values.filter(Number.isFinite)));
  const gw = (W - L - R) / Math.max(1, categories.length);
  const bw = (gw * 0.8) / Math.max(1, series.length);
  const sy = (y: number): number => H - B - (y / yMax) * (H - T - B);
  const parts: string[] = [
    `<text x="${W / 2 - R / 2}" y="18" text-anchor="middle" font-weight="bold">${esc(title)}</text>`,
  ];
  parts.push(`<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#333"/>`);
  for (const v of ticks(0, yMax, false))
    parts.push(
      `<line x1="${L}" y1="${sy(v)}" x2="${W - R}" y2="${sy(v)}" stroke="#eee"/><text x="${L - 5}" y="${sy(v) + 4}" text-anchor="end" font-size="11">${fmt(v)}</text>`,
    );
  categories.forEach((c, ci) => {
    series.forEach((s, si) => {
      const v = s.values[ci] ?? 0;
      const x = L + ci * gw + gw * 0.1 + si * bw;
      parts.push(
        `<rect x="${x.toFixed(1)}" y="${sy(v).toFixed(1)}" width="${bw.toFixed(1)}" height="${(H - B - sy(v)).toFixed(1)}" fill="${COLORS[si % COLORS.length]}"><title>${esc(`${s.name} ${c}: ${v.toFixed(2)}`)}</title></rect>`,
      );
    });
    parts.push(
      `<text transform="translate(${L + ci * gw + gw / 2} ${H - B + 12}) rotate(30)" font-size="10">${esc(c)}</text>`,
    );
  });
  series.forEach((s, k) =>
    parts.push(
      `<rect x="${W - R + 10}" y="${T + k * 18}" width="12" height="10" fill="${COLORS[k % COLORS.length]}"/><text x="${W - R + 28}" y="${T + k * 18 + 9}" font-size="12">${esc(s.name)}</text>`,
    ),
  );
  parts.push(
    `<text transform="translate(14 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle" font-size="12">${esc(yLabel)}</text>`,
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">${parts.join("")}</svg>`;
}
