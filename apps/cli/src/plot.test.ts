// The loss PNG carries the SVG's texts: the PNG is decoded here (zlib + PNG rows, independently of
// the encoder) and text-coloured pixels are looked for where the layout puts each label: tick
// numbers left of and below the plot, axis labels, legend and title; and nowhere inside the plot.
// The bitmap font is checked against glyphs drawn by hand, upright and turned.
import { inflateSync } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { drawText, textWidth } from './bitmap-font.js';
import { PLOT_LAYOUT, PNG_TEXT_COLOR, type Series, lossCurvePng, lossCurveSvg } from './plot.js';

function decodePng(png: Buffer): { width: number; height: number; rgb: (x: number, y: number) => number[] } {
  expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  let at = 8;
  let width = 0;
  let height = 0;
  const idat: Buffer[] = [];
  while (at < png.length) {
    const len = png.readUInt32BE(at);
    const type = png.toString('ascii', at + 4, at + 8);
    const data = png.subarray(at + 8, at + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      expect([data[8], data[9]]).toEqual([8, 2]); // 8-bit RGB
    }
    if (type === 'IDAT') idat.push(data);
    at += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * 3 + 1;
  expect(raw.length).toBe(stride * height);
  for (let y = 0; y < height; y++) expect(raw[y * stride]).toBe(0); // filter "none" on every row
  return { width, height, rgb: (x, y) => [...raw.subarray(y * stride + 1 + x * 3, y * stride + 1 + x * 3 + 3)] };
}

const { width: W, height: H, margin: M } = PLOT_LAYOUT;
const series: Series[] = [
  {
    name: 'train loss',
    color: '#1f77b4',
    points: Array.from({ length: 100 }, (_, i) => [i + 1, 4 - (2.5 * i) / 99] as const),
  },
  {
    name: 'validation loss',
    color: '#d62728',
    points: [
      [50, 3],
      [100, 2],
    ],
  },
];

describe('lossCurvePng', () => {
  const img = decodePng(lossCurvePng(series, 'char-lstm on Moby-Dick'));
  const isText = (x: number, y: number) => img.rgb(x, y).every((v, k) => v === PNG_TEXT_COLOR[k]);
  /** Text pixels in the box [x0, x1) x [y0, y1). */
  const inkIn = (x0: number, x1: number, y0: number, y1: number) => {
    const hits: [number, number][] = [];
    for (let y = Math.max(0, Math.floor(y0)); y < Math.min(H, y1); y++)
      for (let x = Math.max(0, Math.floor(x0)); x < Math.min(W, x1); x++) if (isText(x, y)) hits.push([x, y]);
    return hits;
  };
  const plotTop = M.top;
  const plotBottom = H - M.bottom;
  // Five evenly spaced ticks span the plot on each axis (the first at its bottom/left edge).
  const yTickRows = [0, 1, 2, 3, 4].map((i) => plotBottom - (i * (plotBottom - plotTop)) / 4);
  const xTickCols = [0, 1, 2, 3, 4].map((i) => M.left + (i * (W - M.left - M.right)) / 4);

  test('is the layout size', () => {
    expect([img.width, img.height]).toEqual([W, H]);
  });

  test('y tick numbers sit left of the axis, one on each tick', () => {
    for (const row of yTickRows) {
      const ink = inkIn(0, M.left, row - 6, row + 6);
      expect(ink.length).toBeGreaterThan(10);
      expect(Math.max(...ink.map(([x]) => x))).toBeLessThan(M.left - 2);
    }
  });

  test('x tick numbers sit below the axis, under each tick', () => {
    for (const col of xTickCols)
      expect(inkIn(col - 12, col + 12, plotBottom + 2, plotBottom + 22).length).toBeGreaterThan(5);
  });

  test('the axis labels, the title and the legend are drawn', () => {
    const xLabel = inkIn(W / 2 - 40, W / 2 + 40, plotBottom + 22, H);
    const yLabel = inkIn(0, 20, H / 2 - 80, H / 2 + 80);
    const title = inkIn(0, W, 0, plotTop - 4);
    expect(xLabel.length).toBeGreaterThan(20);
    expect(yLabel.length).toBeGreaterThan(50);
    // The y label reads upwards: taller than wide.
    const span = (v: number[]) => Math.max(...v) - Math.min(...v);
    expect(span(yLabel.map(([, y]) => y))).toBeGreaterThan(4 * span(yLabel.map(([x]) => x)));
    expect(title.length).toBeGreaterThan(100);
    // Legend: one line of text per series, right of its colour swatch, in the top right corner.
    for (let i = 0; i < series.length; i++)
      expect(inkIn(W - M.right - 134, W, plotTop + 2 + i * 18, plotTop + 14 + i * 18).length).toBeGreaterThan(20);
    expect(img.rgb(W - M.right - 144, plotTop + 7)).toEqual([0x1f, 0x77, 0xb4]);
    expect(img.rgb(W - M.right - 144, plotTop + 7 + 18)).toEqual([0xd6, 0x27, 0x28]);
  });

  test('no text inside the plot area outside the legend', () => {
    expect(inkIn(M.left + 1, W - M.right - 160, plotTop, plotBottom).length).toBe(0);
    expect(inkIn(M.left + 1, W - M.right, plotTop + 2 * 18 + 10, plotBottom).length).toBe(0);
  });

  test('the SVG has the same texts', () => {
    const svg = lossCurveSvg(series, 'char-lstm on Moby-Dick');
    for (const t of [
      'char-lstm on Moby-Dick',
      'step',
      'loss (nats/token)',
      'train loss',
      'validation loss',
      '>0<',
      '>100<',
    ])
      expect(svg).toContain(t);
  });
});

describe('drawText', () => {
  const draw = (text: string, style = {}) => {
    const lit = new Set<string>();
    drawText(text, 10, 20, (x, y) => lit.add(`${x},${y}`), style);
    return lit;
  };
  // "1" of a 5x7 font, drawn by hand (top row first).
  const ONE = ['..#..', '.##..', '..#..', '..#..', '..#..', '..#..', '.###.'];
  const pixels = (rows: string[], at: (r: number, c: number) => [number, number]) =>
    new Set(rows.flatMap((row, r) => [...row].flatMap((ch, c) => (ch === '#' ? [at(r, c).join(',')] : []))));

  test('upright: the glyph bottom row on the baseline y, starting at x', () => {
    expect(draw('1')).toEqual(pixels(ONE, (r, c) => [10 + c, 20 - 6 + r]));
  });

  test('vertical: a quarter turn counter-clockwise, reading upwards from y', () => {
    // Upright pixel (column c, rows above the baseline 6 - r) lands at x - (6 - r), y - c.
    expect(draw('1', { vertical: true })).toEqual(pixels(ONE, (r, c) => [10 - (6 - r), 20 - c]));
  });

  test('anchors and scale', () => {
    expect(textWidth('1.25')).toBe(4 * 6 - 1);
    expect(textWidth('ab', 2)).toBe(2 * (2 * 6 - 1));
    const end = [...draw('11', { anchor: 'end' })].map((p) => Number(p.split(',')[0]));
    expect(Math.max(...end)).toBe(10 - 1 - 1); // the last glyph's rightmost lit column is its fourth
    expect(draw('1', { scale: 2 }).size).toBe(4 * [...ONE.join('')].filter((c) => c === '#').length);
  });
});
