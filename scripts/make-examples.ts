/**
 * Generates the bundled example pair, examples/content.jpg (a photo-like lake landscape) and
 * examples/style.jpg (an expressionist brush-stroke painting), plus a second style (style-mosaic.jpg, a
 * stained-glass mosaic) and the content's sky and ground masks (mask-sky.png, mask-ground.png) for the
 * README's --style-mask picture, procedurally and deterministically.
 * Run: npx tsx scripts/make-examples.ts
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { seededRandom } from '../src/engine/vgg.js';

type Rgb = readonly [number, number, number];
type Rng = () => number;
type Noise2 = (x: number, y: number) => number;
/** An RGB image with channels in 0..1, row-major, interleaved. */
interface Picture {
  width: number;
  height: number;
  data: Float32Array;
}

const EXAMPLES = path.join(path.dirname(fileURLToPath(import.meta.url)), '../examples');

// ---------- small maths (hand-written: value noise and fBm are a few lines, no library needed) ----------

const clamp01 = (v: number): number => Math.min(1, Math.max(0, v));
/** v[i] with i clamped into range, so edge pixels can look past the border. */
const at = (v: Float32Array, i: number): number => v[Math.min(Math.max(i, 0), v.length - 1)];
const smoothstep = (a: number, b: number, v: number): number => {
  const t = clamp01((v - a) / (b - a));
  return t * t * (3 - 2 * t);
};
const mix = (a: Rgb, b: Rgb, t: number): Rgb => [
  a[0] + (b[0] - a[0]) * t,
  a[1] + (b[1] - a[1]) * t,
  a[2] + (b[2] - a[2]) * t,
];
const scale = (c: Rgb, k: number): Rgb => [c[0] * k, c[1] * k, c[2] * k];

/** Smooth value noise in 0..1 from an integer lattice hash. */
function valueNoise(seed: number): Noise2 {
  const hash = (ix: number, iy: number): number => {
    let h = Math.imul(ix, 374761393) ^ Math.imul(iy, 668265263) ^ Math.imul(seed, 1274126177);
    h = Math.imul(h ^ (h >>> 13), 1103515245);
    return ((h ^ (h >>> 16)) >>> 0) / 4294967296;
  };
  return (x, y) => {
    const ix = Math.floor(x);
    const iy = Math.floor(y);
    const sx = smoothstep(0, 1, x - ix);
    const sy = smoothstep(0, 1, y - iy);
    const a = hash(ix, iy);
    const b = hash(ix + 1, iy);
    const c = hash(ix, iy + 1);
    const d = hash(ix + 1, iy + 1);
    return a + (b - a) * sx + (c - a) * sy + (a - b - c + d) * sx * sy;
  };
}

/** Fractal Brownian motion: octaves of noise, each twice the frequency and half the amplitude; 0..1. */
function fbm(noise: Noise2, x: number, y: number, octaves = 5): number {
  let sum = 0;
  let amp = 0.5;
  let norm = 0;
  for (let o = 0; o < octaves; o++) {
    sum += noise(x, y) * amp;
    norm += amp;
    amp *= 0.5;
    x = x * 2 + 17.3;
    y = y * 2 + 9.1;
  }
  return sum / norm;
}

/** A moving average over ±r samples, clamped at the ends. */
function boxBlur(v: Float32Array, r: number): Float32Array {
  return v.map((_, i) => {
    let sum = 0;
    for (let k = -r; k <= r; k++) sum += at(v, i + k);
    return sum / (2 * r + 1);
  });
}

/** A ridgeline by midpoint displacement, resampled to `width` heights in about -1..1. */
function ridgeline(width: number, rand: Rng, roughness: number): Float32Array {
  const n = 1024;
  const h = new Float32Array(n + 1);
  h[0] = rand() - 0.5;
  h[n] = rand() - 0.5;
  for (let step = n, amp = 1; step > 1; step /= 2, amp *= roughness) {
    for (let i = step / 2; i < n; i += step)
      h[i] = (h[i - step / 2] + h[i + step / 2]) / 2 + (rand() - 0.5) * amp;
  }
  return Float32Array.from({ length: width }, (_, x) => h[Math.round((x / (width - 1)) * n)]);
}

function picture(width: number, height: number): Picture {
  return { width, height, data: new Float32Array(width * height * 3) };
}
const get = (p: Picture, x: number, y: number): Rgb => {
  const i = (y * p.width + x) * 3;
  return [p.data[i], p.data[i + 1], p.data[i + 2]];
};
const put = (p: Picture, x: number, y: number, c: Rgb): void => {
  p.data.set(c, (y * p.width + x) * 3);
};

async function writeJpeg(p: Picture, file: string, quality: number): Promise<void> {
  const bytes = Uint8Array.from(p.data, (v) => Math.round(clamp01(v) * 255));
  await sharp(bytes, { raw: { width: p.width, height: p.height, channels: 3 } })
    .jpeg({ quality, mozjpeg: true })
    .toFile(file);
}

async function rasterSvg(svg: string): Promise<{ data: Buffer; width: number }> {
  const { data, info } = await sharp(Buffer.from(svg))
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width };
}

// ---------- content: a lake at golden hour ----------

const W = 768;
const H = 512;
const WATER_Y = 330;
const SUN = { x: 520, y: 178 };
const HORIZON_SKY: Rgb = [0.98, 0.82, 0.62];
const HAZE: Rgb = [0.66, 0.7, 0.82];

/** Blue zenith to warm horizon, with the sun's disc and glow. */
function skyColour(x: number, y: number): Rgb {
  const t = y / WATER_Y;
  const base = mix(
    mix([0.2, 0.36, 0.62], [0.52, 0.66, 0.84], smoothstep(0, 0.6, t)),
    HORIZON_SKY,
    smoothstep(0.45, 1, t),
  );
  const d = Math.hypot(x - SUN.x, y - SUN.y);
  const glow = 0.9 * Math.exp(-d / 45) + 0.35 * Math.exp(-d / 190);
  return d < 13 ? [1, 0.98, 0.92] : mix(base, [1, 0.9, 0.7], clamp01(glow));
}

/** Cumulus-like clouds: thresholded fBm, lit on the side facing the sun. */
function cloudOver(sky: Rgb, x: number, y: number, noise: Noise2): Rgb {
  const at = (px: number, py: number): number => fbm(noise, px / 210, py / 70, 6);
  const density = smoothstep(0.5, 0.72, at(x, y)) * smoothstep(WATER_Y - 40, 60, y);
  if (density <= 0) return sky;
  const toSun = Math.atan2(SUN.y - y, SUN.x - x);
  const lit = clamp01(0.55 + 6 * (at(x, y) - at(x + Math.cos(toSun) * 6, y + Math.sin(toSun) * 6)));
  const warmth = Math.exp(-Math.hypot(x - SUN.x, y - SUN.y) / 260);
  const cloud = mix([0.55, 0.56, 0.66], mix([0.98, 0.96, 0.93], [1, 0.84, 0.62], warmth), lit);
  return mix(sky, cloud, density * 0.92);
}

interface Range {
  ridge: Float32Array;
  base: Float32Array; // the ridge smoothed (and without treetops): mist and shading follow it
  colour: Rgb;
  haze: number; // 0 near .. 1 lost in the horizon haze
}

/** Four ridges, far to near: snowy peaks, two hazy ranges, then a forested shore with spiky treetops. */
function mountainRanges(rand: Rng): Range[] {
  const treetops = valueNoise(13);
  const layer = (top: number, amp: number, rough: number, colour: Rgb, haze: number): Range => {
    const ridge = ridgeline(W, rand, rough).map((h) => top + h * amp);
    return { ridge, base: boxBlur(ridge, 20), colour, haze };
  };
  const forest = layer(312, 16, 0.5, [0.07, 0.13, 0.09], 0.06);
  forest.ridge = forest.ridge.map((h, x) => h - 9 * treetops(x / 2.2, 0) ** 2);
  return [
    layer(178, 130, 0.6, [0.4, 0.45, 0.64], 0.3),
    layer(245, 75, 0.55, [0.27, 0.32, 0.48], 0.2),
    layer(285, 45, 0.52, [0.15, 0.2, 0.28], 0.1),
    forest,
  ];
}

/** A mountain pixel: faces lit where the ridge falls toward the sun, snowy peaks, valley mist, aerial perspective. */
function mountainColour(r: Range, x: number, y: number, noise: Noise2): Rgb {
  // Faces run down from the ridge along a wandering fall line, so the shading is not in straight columns.
  const below = y - r.base[x];
  const fx = Math.round(x + (fbm(noise, x / 40, y / 40, 3) - 0.5) * below * 1.2);
  const slope = at(r.base, fx + 6) - at(r.base, fx - 6);
  const light =
    Math.tanh(slope / 5) * Math.exp(-below / 70) * 0.5 + 0.16 * (fbm(noise, x / 14, y / 10, 4) - 0.5);
  let c = scale(r.colour, 1 + light * (1 - r.haze));
  if (y < 140 + 30 * fbm(noise, x / 12, y / 6, 3))
    c = mix([0.6, 0.64, 0.8], [1, 0.93, 0.84], clamp01(0.45 + light * 2));
  const mist = smoothstep(r.base[x], WATER_Y + 10, y) * 0.65;
  const haze = mix(HAZE, HORIZON_SKY, Math.exp(-Math.abs(x - SUN.x) / 220));
  return mix(c, haze, clamp01(r.haze + mist * (1 - r.haze)));
}

/** Sky, clouds and mountains above the waterline. */
function paintLand(p: Picture, rand: Rng): void {
  const clouds = valueNoise(11);
  const rock = valueNoise(12);
  const ranges = mountainRanges(rand);
  for (let y = 0; y < WATER_Y; y++) {
    for (let x = 0; x < W; x++) {
      let c = cloudOver(skyColour(x, y), x, y, clouds);
      for (const r of ranges) {
        const cover = clamp01(y - r.ridge[x] + 0.5); // antialiased ridge edge
        if (cover > 0) c = mix(c, mountainColour(r, x, y, rock), cover);
      }
      put(p, x, y, c);
    }
  }
}

/** The lake mirrors the land with wind ripples, a darker tint and the sun's glitter path. */
function paintLake(p: Picture): void {
  const ripples = valueNoise(21);
  for (let y = WATER_Y; y < H; y++) {
    const depth = (y - WATER_Y) / (H - WATER_Y);
    for (let x = 0; x < W; x++) {
      const wave = fbm(ripples, x / 90, y / (1.2 + 5 * depth), 3) - 0.5;
      const sx = Math.min(W - 1, Math.max(0, Math.round(x + wave * 30 * depth)));
      const sy = Math.max(0, Math.round(2 * WATER_Y - y - 1 + wave * 8 * depth));
      let c = mix(scale(get(p, sx, sy), 0.78), [0.08, 0.16, 0.2], 0.15 + 0.35 * depth);
      const path = Math.exp(-(((x - SUN.x) / (14 + 110 * depth)) ** 2));
      const glitter = smoothstep(0.6, 0.8, fbm(ripples, x / 5, y / 1.5, 2)) * path;
      c = mix(c, [1, 0.92, 0.74], glitter * 0.9);
      put(p, x, y, mix(c, [1, 0.9, 0.75], 0.25 * Math.max(0, wave) * (1 - depth)));
    }
  }
}

/** A spruce silhouette: a thin trunk and tiers of drooping branches with ragged tips, each side its own. */
function spruce(x: number, base: number, height: number, rand: Rng): string {
  const tiers = Math.round(height / 9);
  const tierHeight = (height * 0.9) / tiers;
  const side = (dir: number): string[] => {
    const out: string[] = [];
    for (let i = 0; i < tiers; i++) {
      const y = base - height * 0.1 - i * tierHeight;
      const half = height * 0.22 * (1 - i / tiers) ** 0.9 + 2;
      out.push(`${(x + dir * half * (0.65 + 0.7 * rand())).toFixed(1)},${(y + 3 * rand()).toFixed(1)}`);
      out.push(`${(x + dir * half * 0.3).toFixed(1)},${(y - tierHeight * 0.7).toFixed(1)}`);
    }
    return out;
  };
  const outline = [...side(1), `${x},${base - height}`, ...side(-1).reverse()];
  const trunk = `<rect x="${x - 2}" y="${base - height * 0.12}" width="4" height="${height * 0.12 + 2}" fill="#2a1d14"/>`;
  return `${trunk}<polygon points="${outline.join(' ')}" fill="url(#tree)"/>`;
}

/** A red wooden cabin with white trim and a dark roof, sunlit on its right wall. */
function cabin(x: number, base: number): string {
  return `
    <polygon points="${x},${base} ${x + 54},${base} ${x + 54},${base - 26} ${x},${base - 26}" fill="#8e2a1e"/>
    <polygon points="${x + 54},${base} ${x + 74},${base - 6} ${x + 74},${base - 31} ${x + 54},${base - 26}" fill="#c4452c"/>
    <polygon points="${x - 4},${base - 25} ${x + 22},${base - 44} ${x + 76},${base - 50} ${x + 58},${base - 27}" fill="#2b2a2e"/>
    <polygon points="${x + 58},${base - 27} ${x + 76},${base - 50} ${x + 78},${base - 30}" fill="#c4452c"/>
    <rect x="${x + 10}" y="${base - 19}" width="9" height="9" fill="#f1ead8"/>
    <rect x="${x + 12}" y="${base - 17}" width="5" height="5" fill="#3b3a33"/>
    <rect x="${x + 33}" y="${base - 20}" width="9" height="20" fill="#f1ead8"/>
    <rect x="${x + 61}" y="${base - 21}" width="7" height="9" fill="#f6efdc"/>`;
}

/** The near shore: a grassy bank with spruces and a cabin, as SVG shapes. */
function foregroundSvg(rand: Rng): string {
  // Two banks framing the lake: a long one from the left, a short point on the right.
  const bank = ridgeline(W, rand, 0.5).map(
    (h, x) => h * 12 + Math.min(400 + 160 * (x / 500) ** 2, 430 + 130 * ((W - x) / 230) ** 2),
  );
  const edge = Array.from(bank, (y, x) => `${x},${y.toFixed(1)}`).filter(
    (_, x) => x % 4 === 0 || x === W - 1,
  );
  const trees: string[] = [];
  for (const [tx, h] of [
    [18, 230],
    [52, 180],
    [84, 205],
    [118, 140],
    [150, 100],
    [660, 120],
    [700, 175],
    [745, 225],
  ]) {
    trees.push(spruce(tx, bank[tx] + 8, h * (0.9 + 0.2 * rand()), rand));
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}">
    <defs>
      <linearGradient id="tree" x1="0" x2="1"><stop offset="0" stop-color="#09140d"/><stop offset="1" stop-color="#24361d"/></linearGradient>
      <linearGradient id="grass" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#5e682a"/><stop offset="1" stop-color="#1a220d"/></linearGradient>
    </defs>
    <polygon points="0,${H} ${edge.join(' ')} ${W},${H}" fill="url(#grass)"/>
    ${cabin(190, bank[225] + 4)}
    ${trees.join('')}
  </svg>`;
}

/** Lays the foreground over the picture, giving its flat SVG fills a foliage texture. */
async function paintForeground(p: Picture, rand: Rng): Promise<void> {
  const { data } = await rasterSvg(foregroundSvg(rand));
  const leaves = valueNoise(31);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = (y * W + x) * 4;
      const alpha = data[i + 3] / 255;
      if (alpha === 0) continue;
      const texture = 0.6 + 0.7 * fbm(leaves, x / 2, y / 5, 3); // streaky, like grass blades and needles
      const c: Rgb = [data[i] / 255, data[i + 1] / 255, data[i + 2] / 255];
      put(p, x, y, mix(get(p, x, y), scale(c, texture), alpha));
    }
  }
}

/** Film grain, so the render reads as a photograph rather than a vector drawing. */
function addGrain(p: Picture, rand: Rng, amount: number): void {
  for (let i = 0; i < p.data.length; i += 3) {
    const g = (rand() + rand() + rand() - 1.5) * amount;
    for (let c = 0; c < 3; c++) p.data[i + c] += g * (0.8 + 0.4 * rand());
  }
}

async function makeContent(file: string): Promise<void> {
  const rand = seededRandom(2024);
  const p = picture(W, H);
  paintLand(p, rand);
  paintLake(p);
  await paintForeground(p, rand);
  addGrain(p, rand, 0.03);
  await writeJpeg(p, file, 88);
}

// ---------- style: swirling brush strokes ----------

const S = 512;
interface Vortex {
  x: number;
  y: number;
  radius: number;
  spin: number;
}
const VORTICES: Vortex[] = [
  { x: 170, y: 160, radius: 120, spin: 1.6 },
  { x: 350, y: 250, radius: 95, spin: -1.4 },
  { x: 395, y: 105, radius: 60, spin: 2.2 },
  { x: 90, y: 330, radius: 55, spin: -1.5 },
];
const ORBS = [
  { x: 395, y: 105, radius: 48 },
  { x: 120, y: 70, radius: 16 },
  { x: 250, y: 50, radius: 12 },
  { x: 470, y: 240, radius: 14 },
];
const HILLS_Y = 385;

const PALETTES: Record<'sky' | 'gold' | 'hills', Rgb[]> = {
  sky: [
    [0.04, 0.08, 0.3],
    [0.08, 0.18, 0.52],
    [0.15, 0.32, 0.7],
    [0.3, 0.5, 0.82],
    [0.55, 0.72, 0.9],
  ],
  gold: [
    [1, 0.95, 0.7],
    [0.98, 0.82, 0.28],
    [0.92, 0.62, 0.12],
    [0.8, 0.42, 0.08],
  ],
  hills: [
    [0.03, 0.1, 0.16],
    [0.06, 0.2, 0.26],
    [0.1, 0.3, 0.3],
    [0.22, 0.45, 0.4],
    [0.55, 0.42, 0.16],
  ],
};

const hillLine = (x: number): number => HILLS_Y + 22 * Math.sin(x / 70) + 10 * Math.sin(x / 23 + 1);

/** The flow field: a drifting wind, vortices (strokes circle each centre) and wavy hills. */
function flowAngle(x: number, y: number, noise: Noise2): number {
  let vx = 1;
  let vy = 0.35 * Math.sin(x / 55 + y / 40);
  if (y > hillLine(x)) return Math.atan2(0.25 * Math.cos(x / 70), 1) + (noise(x / 40, y / 40) - 0.5);
  for (const v of VORTICES) {
    const dx = x - v.x;
    const dy = y - v.y;
    const r = Math.hypot(dx, dy) + 1e-3;
    const w = v.spin * Math.exp(-((r / v.radius) ** 2)) * 3;
    vx += (-dy / r) * w;
    vy += (dx / r) * w;
  }
  return Math.atan2(vy, vx) + (noise(x / 60, y / 60) - 0.5) * 0.8;
}

/** Gold near the orbs, cool blues banded by the swirl, dark teal hills; every stroke jittered. */
function strokeColour(x: number, y: number, rand: Rng, noise: Noise2): Rgb {
  const pick = (name: keyof typeof PALETTES, t: number): Rgb => {
    const pal = PALETTES[name];
    return pal[Math.min(pal.length - 1, Math.max(0, Math.floor(t * pal.length)))];
  };
  const glow = Math.max(...ORBS.map((o) => Math.exp(-((Math.hypot(x - o.x, y - o.y) / o.radius) ** 2))));
  let c: Rgb;
  if (rand() < glow * 1.4) c = pick('gold', 1 - glow + rand() * 0.3);
  else if (y > hillLine(x)) c = pick('hills', rand() < 0.1 ? 0.99 : fbm(noise, x / 50, y / 50) * 0.9);
  else if (rand() < 0.08) c = pick('gold', 0.2 + rand() * 0.6);
  else c = pick('sky', fbm(noise, x / 70, y / 70) * 1.1 - 0.15 + rand() * 0.35 + (1 - y / S) * 0.1);
  const jitter = (v: number): number => clamp01(v + (rand() - 0.5) * 0.08);
  return [jitter(c[0]), jitter(c[1]), jitter(c[2])];
}

const hex = (c: Rgb): string =>
  `#${c
    .map((v) =>
      Math.round(clamp01(v) * 255)
        .toString(16)
        .padStart(2, '0'),
    )
    .join('')}`;
const pts = (ps: [number, number][]): string =>
  ps.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ');

/** One brush stroke: a tapered ribbon along the flow with a shadow, a body, bristle streaks and an impasto highlight. */
function stroke(x: number, y: number, width: number, rand: Rng, noise: Noise2, colours: Noise2): string {
  const spine: [number, number][] = [[x, y]];
  const steps = 5 + Math.floor(rand() * 8);
  for (let i = 0; i < steps; i++) {
    const a = flowAngle(x, y, noise);
    x += Math.cos(a) * 3;
    y += Math.sin(a) * 3;
    spine.push([x, y]);
  }
  const ribbon = (w: number, dx: number, dy: number): [number, number][] => {
    const left: [number, number][] = [];
    const right: [number, number][] = [];
    spine.forEach(([px, py], i) => {
      const [qx, qy] = spine[Math.min(i + 1, spine.length - 1)];
      const [ox, oy] = spine[Math.max(i - 1, 0)];
      const a = Math.atan2(qy - oy, qx - ox);
      const half = (w / 2) * Math.sin((Math.PI * (i + 0.5)) / spine.length) ** 0.4;
      left.push([px - Math.sin(a) * half + dx, py + Math.cos(a) * half + dy]);
      right.push([px + Math.sin(a) * half + dx, py - Math.cos(a) * half + dy]);
    });
    return [...left, ...right.reverse()];
  };
  const c = strokeColour(spine[0][0], spine[0][1], rand, colours);
  const bristle = (off: number): string =>
    `<polyline points="${pts(spine.map(([px, py]) => [px + off, py - off]))}" stroke="${hex(scale(c, 0.7))}" stroke-width="0.7" fill="none" opacity="0.5"/>`;
  return [
    `<polygon points="${pts(ribbon(width, 1.2, 1.4))}" fill="${hex(scale(c, 0.35))}" opacity="0.45"/>`,
    `<polygon points="${pts(ribbon(width, 0, 0))}" fill="${hex(c)}"/>`,
    bristle(width * 0.2),
    bristle(-width * 0.15),
    `<polygon points="${pts(ribbon(width * 0.35, -width * 0.18, -width * 0.18))}" fill="${hex(mix(c, [1, 1, 1], 0.4))}" opacity="0.45"/>`,
  ].join('');
}

/** Three passes, broad to fine, like a painter blocking in then adding detail. */
function styleSvg(rand: Rng): string {
  const flow = valueNoise(41);
  const colours = valueNoise(42);
  const strokes: string[] = [];
  for (const [count, width] of [
    [900, 11],
    [1800, 7],
    [2600, 4],
  ]) {
    for (let i = 0; i < count; i++) {
      strokes.push(
        stroke(
          rand() * (S + 20) - 10,
          rand() * (S + 20) - 10,
          width * (0.8 + 0.4 * rand()),
          rand,
          flow,
          colours,
        ),
      );
    }
  }
  // Warm ground under the orbs, so the still centre of each swirl is not left as bare canvas.
  const underpaint = ORBS.map(
    (o) => `<circle cx="${o.x}" cy="${o.y}" r="${o.radius * 0.6}" fill="#f0c860"/>`,
  ).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${S}" height="${S}">
    <rect width="${S}" height="${S}" fill="#0c1a44"/>${underpaint}${strokes.join('')}</svg>`;
}

async function makeStyle(file: string): Promise<void> {
  const rand = seededRandom(1889);
  const { data, width } = await rasterSvg(styleSvg(rand));
  const p = picture(width, width);
  for (let i = 0; i < width * width; i++)
    p.data.set([data[i * 4] / 255, data[i * 4 + 1] / 255, data[i * 4 + 2] / 255], i * 3);
  await writeJpeg(p, file, 88);
}

// ---------- masks: the content's sky and ground, for `--style-mask` ----------

/**
 * The sky (1 above the highest ridgeline, antialiased like the ridges are drawn) and the ground (the rest:
 * mountains, lake, shore): the same ridges as the content, from the same seed.
 */
async function makeMasks(skyFile: string, groundFile: string): Promise<void> {
  const ranges = mountainRanges(seededRandom(2024));
  const sky = new Uint8Array(W * H);
  for (let y = 0; y < WATER_Y; y++) {
    for (let x = 0; x < W; x++) {
      const top = Math.min(...ranges.map((r) => r.ridge[x]));
      sky[y * W + x] = Math.round((1 - clamp01(y - top + 0.5)) * 255);
    }
  }
  const write = (data: Uint8Array, file: string) =>
    sharp(data, { raw: { width: W, height: H, channels: 1 } })
      .png({ compressionLevel: 9 })
      .toFile(file);
  await write(sky, skyFile);
  await write(
    sky.map((v) => 255 - v),
    groundFile,
  );
}

// ---------- a second style: a stained-glass mosaic ----------

const MOSAIC_PALETTE: Rgb[] = [
  [0.72, 0.12, 0.1],
  [0.86, 0.36, 0.08],
  [0.95, 0.66, 0.16],
  [0.5, 0.08, 0.16],
  [0.98, 0.86, 0.5],
  [0.32, 0.42, 0.2],
];

/** Voronoi cells (jittered grid) in warm glass colours, shaded across each cell, with dark leading between them. */
async function makeMosaic(file: string): Promise<void> {
  const rand = seededRandom(1911);
  const shade = valueNoise(31);
  const cell = 26;
  const n = Math.ceil(S / cell) + 2;
  const points = Array.from({ length: n * n }, (_, i) => ({
    x: ((i % n) - 1 + 0.15 + 0.7 * rand()) * cell,
    y: (Math.floor(i / n) - 1 + 0.15 + 0.7 * rand()) * cell,
    colour: MOSAIC_PALETTE[Math.floor(rand() * MOSAIC_PALETTE.length)],
  }));
  const p = picture(S, S);
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) {
      // Nearest and second-nearest site among the neighbouring grid cells.
      const gx = Math.floor(x / cell) + 1;
      const gy = Math.floor(y / cell) + 1;
      let [best, second, owner] = [Infinity, Infinity, points[0]];
      for (let j = gy - 2; j <= gy + 2; j++) {
        for (let i = gx - 2; i <= gx + 2; i++) {
          const q = points[Math.min(n - 1, Math.max(0, j)) * n + Math.min(n - 1, Math.max(0, i))];
          const d = Math.hypot(q.x - x, q.y - y);
          if (d < best) [second, best, owner] = [best, d, q];
          else if (d < second) second = d;
        }
      }
      const edge = smoothstep(1.5, 3.5, second - best); // 0 on the leading, 1 inside the glass
      const light = 0.75 + 0.5 * fbm(shade, x / 60, y / 60, 4) - 0.25 * (best / cell);
      put(p, x, y, mix([0.05, 0.04, 0.04], scale(owner.colour, light), edge));
    }
  }
  await writeJpeg(p, file, 88);
}

await makeContent(path.join(EXAMPLES, 'content.jpg'));
await makeStyle(path.join(EXAMPLES, 'style.jpg'));
await makeMasks(path.join(EXAMPLES, 'mask-sky.png'), path.join(EXAMPLES, 'mask-ground.png'));
await makeMosaic(path.join(EXAMPLES, 'style-mosaic.jpg'));
