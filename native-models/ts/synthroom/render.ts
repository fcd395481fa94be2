// Rasterises SynthRoom scenes into uint8 RGB frames: a static room (rendered once per clip, with a
// margin for camera shake) and the person drawn per frame from capsules and discs.
import { mulberry32 } from '../rng.js';
import {
  poseAt,
  SKIN_TONES,
  TOP_COLOURS,
  TROUSER_COLOURS,
  WALL_STYLES,
  type Pose,
  type Room,
  type SceneSpec,
} from './scene.js';

type RGB = [number, number, number];

/** A float RGB canvas with simple fill primitives. */
class Canvas {
  readonly px: Float32Array;
  constructor(
    readonly w: number,
    readonly h: number,
  ) {
    this.px = new Float32Array(w * h * 3);
  }

  set(x: number, y: number, c: RGB): void {
    if (x < 0 || y < 0 || x >= this.w || y >= this.h) return;
    const o = (y * this.w + x) * 3;
    this.px[o] = c[0];
    this.px[o + 1] = c[1];
    this.px[o + 2] = c[2];
  }

  rect(x0: number, y0: number, x1: number, y1: number, c: RGB): void {
    const xa = Math.max(0, Math.floor(x0));
    const xb = Math.min(this.w, Math.ceil(x1));
    const ya = Math.max(0, Math.floor(y0));
    const yb = Math.min(this.h, Math.ceil(y1));
    for (let y = ya; y < yb; y++) for (let x = xa; x < xb; x++) this.set(x, y, c);
  }

  disc(cx: number, cy: number, r: number, c: RGB): void {
    const r2 = r * r;
    for (let y = Math.floor(cy - r); y <= Math.ceil(cy + r); y++) {
      for (let x = Math.floor(cx - r); x <= Math.ceil(cx + r); x++) {
        const dx = x + 0.5 - cx;
        const dy = y + 0.5 - cy;
        if (dx * dx + dy * dy <= r2) this.set(x, y, c);
      }
    }
  }

  /** Thick segment with round caps; `colourAt` may vary the colour along it (stripes). */
  capsule(ax: number, ay: number, bx: number, by: number, r: number, colourAt: (t: number) => RGB): void {
    const vx = bx - ax;
    const vy = by - ay;
    const len2 = vx * vx + vy * vy || 1e-9;
    const x0 = Math.floor(Math.min(ax, bx) - r);
    const x1 = Math.ceil(Math.max(ax, bx) + r);
    const y0 = Math.floor(Math.min(ay, by) - r);
    const y1 = Math.ceil(Math.max(ay, by) + r);
    const r2 = r * r;
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        const px = x + 0.5 - ax;
        const py = y + 0.5 - ay;
        const t = Math.min(1, Math.max(0, (px * vx + py * vy) / len2));
        const dx = px - t * vx;
        const dy = py - t * vy;
        if (dx * dx + dy * dy <= r2) this.set(x, y, colourAt(t));
      }
    }
  }
}

const shade = (c: RGB, k: number): RGB => [c[0] * k, c[1] * k, c[2] * k];

function drawRoom(cv: Canvas, room: Room, floorY: number, seed: number): void {
  const { w, h } = cv;
  const wall = WALL_STYLES[room.wall]!;
  const rand = mulberry32(seed);
  for (let y = 0; y < floorY; y++) {
    for (let x = 0; x < w; x++) cv.set(x, y, shade(wall, 0.94 + 0.06 * Math.sin(x * 0.9 + y * 0.05)));
  }
  for (let y = Math.floor(floorY); y < h; y++) {
    for (let x = 0; x < w; x++) {
      let c: RGB;
      if (room.floor === 'wood') c = ((y - floorY) / (h * 0.04)) % 2 < 1 ? [150, 105, 65] : [132, 90, 55];
      else if (room.floor === 'tiles')
        c =
          (Math.floor(x / (w * 0.12)) + Math.floor((y - floorY) / (h * 0.06))) % 2 ? [205, 205, 200] : [165, 165, 170];
      else c = shade([110, 95, 120], 0.9 + 0.2 * rand());
      cv.set(x, y, c);
    }
  }
  // Objects: each has a shape of its own, so presence is a visual attribute, not a colour.
  const u = (v: number) => v * w;
  const v = (fy: number) => fy * h;
  const o = room.objects;
  if (o.window) cv.rect(u(o.window.x) - u(0.09), v(0.1), u(o.window.x) + u(0.09), v(0.36), [185, 215, 240]);
  if (o.window) {
    cv.rect(u(o.window.x) - 1, v(0.1), u(o.window.x) + 1, v(0.36), [240, 240, 240]);
    cv.rect(u(o.window.x) - u(0.09), v(0.225), u(o.window.x) + u(0.09), v(0.235) + 1, [240, 240, 240]);
  }
  if (o.picture) {
    cv.rect(u(o.picture.x) - u(0.06), v(0.14), u(o.picture.x) + u(0.06), v(0.26), [70, 50, 30]);
    cv.rect(u(o.picture.x) - u(0.045), v(0.155), u(o.picture.x) + u(0.045), v(0.245), o.picture.colour);
  }
  if (o.clock) {
    cv.disc(u(o.clock.x), v(0.12), u(0.045), [250, 250, 245]);
    cv.rect(u(o.clock.x) - 0.5, v(0.09), u(o.clock.x) + 0.5, v(0.12), [20, 20, 20]);
  }
  if (o.tv) cv.rect(u(o.tv.x) - u(0.1), v(0.3), u(o.tv.x) + u(0.1), v(0.44), [25, 25, 30]);
  if (o.door) cv.rect(u(o.door.x) - u(0.07), v(0.2), u(o.door.x) + u(0.07), floorY, [115, 75, 40]);
  if (o.bed) {
    cv.rect(u(o.bed.x) - u(0.2) * o.bed.s, floorY - v(0.12), u(o.bed.x) + u(0.2) * o.bed.s, floorY, o.bed.colour);
    cv.rect(
      u(o.bed.x) - u(0.2) * o.bed.s,
      floorY - v(0.16),
      u(o.bed.x) - u(0.12) * o.bed.s,
      floorY - v(0.12),
      [240, 240, 240],
    );
  }
  if (o.table) {
    cv.rect(u(o.table.x) - u(0.1), floorY - v(0.16), u(o.table.x) + u(0.1), floorY - v(0.14), o.table.colour);
    cv.rect(u(o.table.x) - u(0.09), floorY - v(0.14), u(o.table.x) - u(0.08), floorY, o.table.colour);
    cv.rect(u(o.table.x) + u(0.08), floorY - v(0.14), u(o.table.x) + u(0.09), floorY, o.table.colour);
  }
  if (o.chair) {
    cv.rect(u(o.chair.x) - u(0.04), floorY - v(0.09), u(o.chair.x) + u(0.04), floorY - v(0.075), o.chair.colour);
    cv.rect(u(o.chair.x) + u(0.03), floorY - v(0.2), u(o.chair.x) + u(0.04), floorY, o.chair.colour);
    cv.rect(u(o.chair.x) - u(0.04), floorY - v(0.075), u(o.chair.x) - u(0.03), floorY, o.chair.colour);
  }
  if (o.plant) {
    cv.rect(u(o.plant.x) - u(0.03), floorY - v(0.07), u(o.plant.x) + u(0.03), floorY, [150, 80, 50]);
    cv.disc(u(o.plant.x), floorY - v(0.12), u(0.055) * o.plant.s, [50, 130, 50]);
  }
  if (o.lamp) {
    cv.rect(u(o.lamp.x) - 0.5, floorY - v(0.3), u(o.lamp.x) + 0.5, floorY, [60, 60, 60]);
    cv.rect(u(o.lamp.x) - u(0.04), floorY - v(0.36), u(o.lamp.x) + u(0.04), floorY - v(0.3), [245, 230, 170]);
  }
}

export interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** Draws the person at `pose`; returns the pixel bounding box of what was drawn. */
function drawPerson(cv: Canvas, spec: SceneSpec, pose: Pose, floorY: number, ox: number, oy: number): Box {
  const { person, motion } = spec;
  const B = motion.scale * cv.h; // body height in pixels
  const skin = SKIN_TONES[person.skin]!;
  const top = TOP_COLOURS[person.top]!;
  const trousers = TROUSER_COLOURS[person.trousers]!;
  const build = person.heavy ? 1.45 : 1;
  const limbR = Math.max(0.9, 0.035 * B * (person.heavy ? 1.2 : 1));
  const box: Box = { x0: Infinity, y0: Infinity, x1: -Infinity, y1: -Infinity };
  const grow = (x: number, y: number, r: number) => {
    box.x0 = Math.min(box.x0, x - r);
    box.y0 = Math.min(box.y0, y - r);
    box.x1 = Math.max(box.x1, x + r);
    box.y1 = Math.max(box.y1, y + r);
  };
  const dir = (a: number): [number, number] => [-Math.sin(a), Math.cos(a)]; // 0 = straight down
  const hipX = pose.hipX * cv.w + ox;
  const hipY = floorY - pose.hipY * B + oy;
  const up: [number, number] = [Math.sin(pose.bodyAngle), -Math.cos(pose.bodyAngle)];
  const torsoLen = 0.32 * B;
  const shX = hipX + up[0] * torsoLen;
  const shY = hipY + up[1] * torsoLen;
  const headR = 0.075 * B;
  const headX = shX + up[0] * (headR * 1.3);
  const headY = shY + up[1] * (headR * 1.3);
  const limb = (ax: number, ay: number, [a1, a2]: [number, number], len: number, c1: RGB, c2: RGB) => {
    const [dx1, dy1] = dir(a1);
    const kx = ax + dx1 * len;
    const ky = ay + dy1 * len;
    const [dx2, dy2] = dir(a1 + a2);
    const ex = kx + dx2 * len;
    const ey = ky + dy2 * len;
    cv.capsule(ax, ay, kx, ky, limbR, () => c1);
    cv.capsule(kx, ky, ex, ey, limbR * 0.9, () => c2);
    grow(kx, ky, limbR);
    grow(ex, ey, limbR);
  };
  // Far limbs first, then torso, then near limbs (simple painter's order).
  limb(hipX, hipY, pose.legL, 0.25 * B, shade(trousers, 0.85), shade(trousers, 0.85));
  limb(shX, shY, pose.armL, 0.17 * B, shade(top, 0.85), shade(skin, 0.9));
  const stripes = (t: number): RGB => (person.striped && Math.floor(t * 6) % 2 === 1 ? shade(top, 0.55) : top);
  cv.capsule(hipX, hipY, shX, shY, limbR * 1.7 * build, stripes);
  grow(hipX, hipY, limbR * 1.7 * build);
  grow(shX, shY, limbR * 1.7 * build);
  limb(hipX, hipY, pose.legR, 0.25 * B, trousers, trousers);
  limb(shX, shY, pose.armR, 0.17 * B, top, skin);
  // Head, hair, headwear, glasses.
  if (person.hair === 'long') cv.capsule(headX, headY, shX - up[1] * 0.0, shY, headR * 1.05, () => [45, 30, 20]);
  cv.disc(headX, headY, headR, skin);
  if (person.hair === 'short')
    cv.disc(headX + up[0] * headR * 0.35, headY + up[1] * headR * 0.35, headR * 0.8, [40, 28, 18]);
  if (person.hair === 'long')
    cv.disc(headX + up[0] * headR * 0.3, headY + up[1] * headR * 0.3, headR * 0.85, [45, 30, 20]);
  if (person.headwear) {
    const hx = headX + up[0] * headR * 0.8;
    const hy = headY + up[1] * headR * 0.8;
    cv.capsule(
      hx - up[1] * headR * 1.3,
      hy + up[0] * headR * 1.3,
      hx + up[1] * headR * 1.3,
      hy - up[0] * headR * 1.3,
      Math.max(0.8, headR * 0.3),
      () => [200, 60, 140],
    );
  }
  if (person.glasses) {
    const gx = headX - up[0] * headR * 0.1 + motion.facing * 0.3 * headR;
    const gy = headY - up[1] * headR * 0.1;
    cv.capsule(gx - headR * 0.6, gy, gx + headR * 0.6, gy, Math.max(0.6, headR * 0.22), () => [15, 15, 15]);
  }
  grow(headX, headY, headR * 1.3);
  return box;
}

export interface RenderedClip {
  frames: Uint8Array; // [frames, h, w, 3]
  boxes: Box[]; // person box per frame, normalised to [0, 1]
  floorY: number; // normalised
}

/** Renders `frames` frames of a scene at w×h, deterministic given `seed`. */
export function renderClip(spec: SceneSpec, w: number, h: number, frames: number, seed: number): RenderedClip {
  const margin = Math.max(1, Math.ceil(spec.jitter));
  const room = new Canvas(w + 2 * margin, h + 2 * margin);
  const floorY = 0.8 * h;
  drawRoom(room, spec.room, floorY + margin, seed);
  const rand = mulberry32(seed ^ 0x9e3779b9);
  const out = new Uint8Array(frames * w * h * 3);
  const boxes: Box[] = [];
  const cv = new Canvas(w, h);
  for (let f = 0; f < frames; f++) {
    const u = frames === 1 ? 0 : f / (frames - 1);
    const jx = Math.round((rand() * 2 - 1) * spec.jitter);
    const jy = Math.round((rand() * 2 - 1) * spec.jitter);
    // Crop the room at the shaken offset.
    for (let y = 0; y < h; y++) {
      const src = ((y + margin + jy) * room.w + margin + jx) * 3;
      cv.px.set(room.px.subarray(src, src + w * 3), y * w * 3);
    }
    const b = drawPerson(cv, spec, poseAt(spec.motion, u), floorY, -jx, -jy);
    boxes.push({
      x0: Math.max(0, b.x0 / w),
      y0: Math.max(0, b.y0 / h),
      x1: Math.min(1, b.x1 / w),
      y1: Math.min(1, b.y1 / h),
    });
    const gain = spec.light.gain * (1 + spec.light.drift * (u - 0.5));
    const base = f * w * h * 3;
    for (let i = 0; i < w * h * 3; i++) {
      // Cheap approximately-Gaussian noise: sum of two uniforms.
      const n = (rand() + rand() - 1) * spec.noise * 1.7;
      const v = cv.px[i]! * gain + n;
      out[base + i] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return { frames: out, boxes, floorY: floorY / h };
}
