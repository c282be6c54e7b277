// The live loss chart: one SVG polyline over the steps so far, its axes labelled with the step
// range and the loss range. The numbers it draws are kept on the element (`data-losses`, JSON) so
// anyone can read the page's own record of the run.

const SVG = 'http://www.w3.org/2000/svg';
const W = 480;
const H = 200;
const PAD = 36;

export class LossChart {
  readonly losses: number[] = [];

  constructor(readonly svg: SVGSVGElement) {
    svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
    this.draw();
  }

  reset(): void {
    this.losses.length = 0;
    this.draw();
  }

  push(loss: number): void {
    this.losses.push(loss);
    this.draw();
  }

  private draw(): void {
    const { svg, losses } = this;
    svg.dataset.losses = JSON.stringify(losses);
    const text = (x: number, y: number, s: string, anchor = 'start') => {
      const t = document.createElementNS(SVG, 'text');
      t.setAttribute('x', String(x));
      t.setAttribute('y', String(y));
      t.setAttribute('text-anchor', anchor);
      t.textContent = s;
      return t;
    };
    const axes = document.createElementNS(SVG, 'path');
    axes.setAttribute('d', `M${PAD},${PAD / 2} V${H - PAD} H${W - PAD / 2}`);
    axes.setAttribute('class', 'axes');
    const parts: SVGElement[] = [axes, text(W / 2, H - 6, 'step', 'middle')];
    if (losses.length > 0) {
      const lo = Math.min(...losses);
      const hi = Math.max(...losses);
      const span = hi - lo || 1;
      const x = (i: number) => PAD + ((W - 1.5 * PAD) * i) / Math.max(1, losses.length - 1);
      const y = (v: number) => H - PAD - ((H - 1.5 * PAD) * (v - lo)) / span;
      const line = document.createElementNS(SVG, 'polyline');
      line.setAttribute('points', losses.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' '));
      line.setAttribute('class', 'loss');
      parts.push(
        line,
        text(PAD - 4, PAD / 2 + 4, hi.toFixed(3), 'end'),
        text(PAD - 4, H - PAD, lo.toFixed(3), 'end'),
        text(PAD, H - PAD + 14, '1'),
        text(W - PAD / 2, H - PAD + 14, String(losses.length), 'end'),
      );
    }
    svg.replaceChildren(...parts);
  }
}
