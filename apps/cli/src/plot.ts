// The loss curve as an image: an SVG (vector, any browser shows it) and a PNG rasterized here with
// node's zlib (no native renderer needed), both drawn from the same scaled polylines.
import { deflateSync } from 'node:zlib';

export interface Series {
  readonly name: string;
  readonly color: string; // #rrggbb
  readonly points: readonly (readonly [number, number])[]; // [step, loss]
}

const W = 720;
const H = 400;
const M = { left: 64, right: 20, top: 36, bottom: 48 };

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

export function lossCurveSvg(series: readonly Series[], title: string): string {
  const s = scales(series);
  const esc = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const lines = series
    .filter((ser) => ser.points.length > 0)
    .map((ser) => `<polyline fill="none" stroke="${ser.color}" stroke-width="${ser.points.length > 1 ? 1.5 : 0}" points="${ser.points.map(([x, y]) => `${s.x(x).toFixed(1)},${s.y(y).toFixed(1)}`).join(' ')}"/>` + ser.points.map(([x, y]) => (ser.points.length < 30 ? `<circle cx="${s.x(x).toFixed(1)}" cy="${s.y(y).toFixed(1)}" r="3" fill="${ser.color}"/>` : '')).join(''));
  const yTicks = s.ticks.map((t) => `<line x1="${M.left}" x2="${W - M.right}" y1="${s.y(t).toFixed(1)}" y2="${s.y(t).toFixed(1)}" stroke="#e5e5e5"/><text x="${M.left - 6}" y="${(s.y(t) + 4).toFixed(1)}" text-anchor="end" font-size="11">${t.toFixed(2)}</text>`);
  const xTicks = s.xticks.map((t) => `<text x="${s.x(t).toFixed(1)}" y="${H - M.bottom + 16}" text-anchor="middle" font-size="11">${Math.round(t)}</text>`);
  const legend = series.map((ser, i) => `<rect x="${W - M.right - 150}" y="${M.top + 6 + i * 18}" width="12" height="3" fill="${ser.color}"/><text x="${W - M.right - 132}" y="${M.top + 11 + i * 18}" font-size="12">${esc(ser.name)}</text>`);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="14">${esc(title)}</text>`,
    ...yTicks,
    ...xTicks,
    `<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${H - M.bottom}" stroke="#333"/><line x1="${M.left}" x2="${W - M.right}" y1="${H - M.bottom}" y2="${H - M.bottom}" stroke="#333"/>`,
    `<text x="${W / 2}" y="${H - 10}" text-anchor="middle" font-size="12">step</text>`,
    `<text x="16" y="${H / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 16 ${H / 2})">loss (nats/char)</text>`,
    ...lines,
    ...legend,
    '</svg>',
  ].join('\n');
}

// ---- PNG: a tiny rasterizer (axes, grid, polylines, markers; no text) ----

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

export function lossCurvePng(series: readonly Series[]): Buffer {
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
    if (pts.length < 30) for (const [x, y] of pts) for (let dx = -2; dx <= 2; dx++) line(x + dx, y - 2, x + dx, y + 2, c);
  }
  const raw = new Uint8Array((W * 3 + 1) * H);
  for (let y = 0; y < H; y++) raw.set(px.subarray(y * W * 3, (y + 1) * W * 3), y * (W * 3 + 1) + 1);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(W, 0);
  ihdr.writeUInt32BE(H, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // truecolor RGB
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array(0))]);
}
