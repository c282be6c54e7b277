// The loss curve as an image: an SVG (vector, any browser shows it) and a PNG rasterized here with
// node's zlib and a built-in bitmap font (no native renderer needed), both drawn from the same
// scaled polylines and the same texts: title, tick numbers, axis labels and legend.
import { deflateSync } from 'node:zlib';
import { drawText } from './bitmap-font.js';

export interface Series {
  readonly name: string;
  readonly color: string; // #rrggbb
  readonly points: readonly (readonly [number, number])[]; // [step, loss]
}

const W = 720;
const H = 400;
const M = { left: 64, right: 20, top: 36, bottom: 48 };

/** The image size and the margins around the plot area (tests locate the labels from these). */
export const PLOT_LAYOUT = { width: W, height: H, margin: M } as const;

function scales(series: readonly Series[]) {
  const all = series.flatMap((s) => s.points).filter(([, y]) => Number.isFinite(y));
  const xs = all.map(([x]) => x);
  const ys = all.map(([, y]) => y);
  const [x0, x1] = [Math.min(...xs, 0), Math.max(...xs, 1)];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const pad = (y1 - y0) * 0.05 || 0.5;
  const ylo = Math.max(0, y0 - pad);
  const yhi = y1 + pad;
  return {
    x: (v: number) => M.left + ((v - x0) / (x1 - x0 || 1)) * (W - M.left - M.right),
    y: (v: number) => H - M.bottom - ((v - ylo) / (yhi - ylo || 1)) * (H - M.top - M.bottom),
    ticks: Array.from({ length: 5 }, (_, i) => ylo + ((yhi - ylo) * i) / 4),
    xticks: Array.from({ length: 5 }, (_, i) => x0 + ((x1 - x0) * i) / 4),
  };
}

/**
 * One piece of text, placed as SVG places it: `y` is the baseline; `size` the SVG font size; `scale`
 * the PNG's pixels per bitmap-font pixel (1: 7-pixel glyphs, as tall as 11 px text).
 */
interface Label {
  readonly text: string;
  readonly x: number;
  readonly y: number;
  readonly anchor: 'start' | 'middle' | 'end';
  readonly size: number;
  readonly scale: 1 | 2;
  readonly vertical?: boolean;
}

/** Every text of the plot (title, tick numbers, axis labels, legend names): the SVG and the PNG both draw these. */
function labels(series: readonly Series[], title: string, s: ReturnType<typeof scales>): Label[] {
  return [
    { text: title, x: W / 2, y: 22, anchor: 'middle', size: 14, scale: 2 },
    ...s.ticks.map((t): Label => ({
      text: t.toFixed(2),
      x: M.left - 6,
      y: s.y(t) + 4,
      anchor: 'end',
      size: 11,
      scale: 1,
    })),
    ...s.xticks.map((t): Label => ({
      text: stepLabel(t, s.xticks[4] - s.xticks[0]),
      x: s.x(t),
      y: H - M.bottom + 16,
      anchor: 'middle',
      size: 11,
      scale: 1,
    })),
    { text: 'step', x: W / 2, y: H - 10, anchor: 'middle', size: 12, scale: 2 },
    { text: 'loss (nats/token)', x: 16, y: H / 2, anchor: 'middle', size: 12, scale: 2, vertical: true },
    ...series.map((ser, i): Label => ({
      text: ser.name,
      x: W - M.right - 132,
      y: M.top + 11 + i * 18,
      anchor: 'start',
      size: 12,
      scale: 1,
    })),
  ];
}

/** A step tick: whole steps, unless the run is so short that rounding would repeat a number. */
const stepLabel = (t: number, span: number) => (span >= 8 ? String(Math.round(t)) : String(Number(t.toFixed(2))));

/** The legend's colour swatches: a short bar left of each series name. */
const swatch = (i: number) => ({ x: W - M.right - 150, y: M.top + 6 + i * 18, width: 12, height: 3 });

export function lossCurveSvg(series: readonly Series[], title: string): string {
  const s = scales(series);
  const esc = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const lines = series
    .filter((ser) => ser.points.length > 0)
    .map(
      (ser) =>
        `<polyline fill="none" stroke="${ser.color}" stroke-width="${ser.points.length > 1 ? 1.5 : 0}" points="${ser.points.map(([x, y]) => `${s.x(x).toFixed(1)},${s.y(y).toFixed(1)}`).join(' ')}"/>` +
        ser.points
          .map(([x, y]) =>
            ser.points.length < 30
              ? `<circle cx="${s.x(x).toFixed(1)}" cy="${s.y(y).toFixed(1)}" r="3" fill="${ser.color}"/>`
              : '',
          )
          .join(''),
    );
  const grid = s.ticks.map(
    (t) =>
      `<line x1="${M.left}" x2="${W - M.right}" y1="${s.y(t).toFixed(1)}" y2="${s.y(t).toFixed(1)}" stroke="#e5e5e5"/>`,
  );
  const texts = labels(series, title, s).map((l) => {
    const [x, y] = [+l.x.toFixed(1), +l.y.toFixed(1)];
    return `<text x="${x}" y="${y}" text-anchor="${l.anchor}" font-size="${l.size}"${l.vertical ? ` transform="rotate(-90 ${x} ${y})"` : ''}>${esc(l.text)}</text>`;
  });
  const swatches = series.map((ser, i) => {
    const r = swatch(i);
    return `<rect x="${r.x}" y="${r.y}" width="${r.width}" height="${r.height}" fill="${ser.color}"/>`;
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    ...grid,
    `<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${H - M.bottom}" stroke="#333"/><line x1="${M.left}" x2="${W - M.right}" y1="${H - M.bottom}" y2="${H - M.bottom}" stroke="#333"/>`,
    ...lines,
    ...swatches,
    ...texts,
    '</svg>',
  ].join('\n');
}

// ---- PNG: a tiny rasterizer (axes, grid, polylines, markers, and text in a 5x7 bitmap font) ----

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  Buffer.from(data).copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** The colour of every text in the PNG: pure black, which nothing else in the plot uses. */
export const PNG_TEXT_COLOR: readonly [number, number, number] = [0, 0, 0];

export function lossCurvePng(series: readonly Series[], title = 'loss'): Buffer {
  const px = new Uint8Array(W * H * 3).fill(255);
  const set = (x: number, y: number, [r, g, b]: number[]) => {
    const xi = Math.round(x);
    const yi = Math.round(y);
    if (xi < 0 || yi < 0 || xi >= W || yi >= H) return;
    const i = (yi * W + xi) * 3;
    px[i] = r;
    px[i + 1] = g;
    px[i + 2] = b;
  };
  const line = (x0: number, y0: number, x1: number, y1: number, color: number[], thick = 1) => {
    const n = Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0), 1);
    for (let i = 0; i <= n; i++) {
      const x = x0 + ((x1 - x0) * i) / n;
      const y = y0 + ((y1 - y0) * i) / n;
      for (let d = 0; d < thick; d++) set(x, y + d, color);
    }
  };
  const rgb = (hex: string) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  const s = scales(series);
  for (const t of s.ticks) line(M.left, s.y(t), W - M.right, s.y(t), [229, 229, 229]);
  line(M.left, M.top, M.left, H - M.bottom, [51, 51, 51]);
  line(M.left, H - M.bottom, W - M.right, H - M.bottom, [51, 51, 51]);
  for (const ser of series) {
    const c = rgb(ser.color);
    const pts = ser.points.map(([x, y]) => [s.x(x), s.y(y)] as const);
    for (let i = 1; i < pts.length; i++) line(pts[i - 1][0], pts[i - 1][1], pts[i][0], pts[i][1], c, 2);
    if (pts.length < 30)
      for (const [x, y] of pts) for (let dx = -2; dx <= 2; dx++) line(x + dx, y - 2, x + dx, y + 2, c);
  }
  series.forEach((ser, i) => {
    const r = swatch(i);
    for (let dy = 0; dy < r.height; dy++) line(r.x, r.y + dy, r.x + r.width, r.y + dy, rgb(ser.color));
  });
  const ink = [...PNG_TEXT_COLOR];
  for (const l of labels(series, title, s))
    drawText(l.text, l.x, l.y, (x, y) => set(x, y, ink), { scale: l.scale, anchor: l.anchor, vertical: l.vertical });
  const raw = new Uint8Array((W * 3 + 1) * H);
  for (let y = 0; y < H; y++) raw.set(px.subarray(y * W * 3, (y + 1) * W * 3), y * (W * 3 + 1) + 1);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(W, 0);
  ihdr.writeUInt32BE(H, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // truecolor RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', new Uint8Array(0)),
  ]);
}
