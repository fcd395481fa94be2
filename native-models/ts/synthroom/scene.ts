// SynthRoom scenes: an articulated person (head, torso, limbs as thick capsules) performing an
// action defined by motion alone, in a room with privacy-bearing style and objects. Everything
// is sampled from a seeded PRNG; the person's attributes are drawn independently of the action.

/** Actions, each defined only by how the body moves. */
export const ACTIONS = [
  'walk-left',
  'walk-right',
  'sit-down',
  'stand-up',
  'fall',
  'wave',
  'drink',
  'bend-pick',
  'lie-still',
  'clap',
] as const;
export type Action = (typeof ACTIONS)[number];

/** Known / novel action sets for the novel-action protocol (disjoint). */
export const KNOWN_ACTIONS: Action[] = ['walk-left', 'walk-right', 'sit-down', 'stand-up', 'fall', 'wave'];
export const NOVEL_ACTIONS: Action[] = ['drink', 'bend-pick', 'lie-still', 'clap'];

type RGB = [number, number, number];

export const SKIN_TONES: Record<string, RGB> = {
  light: [236, 200, 170],
  medium: [196, 142, 100],
  dark: [110, 72, 48],
};
export const TOP_COLOURS: Record<string, RGB> = {
  red: [200, 40, 40],
  blue: [40, 70, 200],
  green: [40, 160, 70],
  yellow: [225, 200, 50],
  white: [235, 235, 235],
};
export const TROUSER_COLOURS: Record<string, RGB> = {
  black: [30, 30, 35],
  denim: [60, 80, 130],
  brown: [120, 80, 45],
};
export const HAIR = ['long', 'short', 'none'] as const;
export const WALL_STYLES: Record<string, RGB> = {
  beige: [214, 200, 170],
  'blue-grey': [150, 165, 185],
  sage: [165, 190, 160],
  rose: [205, 160, 165],
};
export const FLOOR_STYLES = ['wood', 'tiles', 'carpet'] as const;
export const OBJECTS = ['bed', 'chair', 'table', 'tv', 'plant', 'window', 'picture', 'clock', 'lamp', 'door'] as const;

/** Privacy attributes (multi-label), grouped: person attributes and room attributes. */
export const PERSON_ATTRIBUTES = [
  ...Object.keys(SKIN_TONES).map((k) => `skin-${k}`),
  ...Object.keys(TOP_COLOURS).map((k) => `top-${k}`),
  'top-striped',
  ...Object.keys(TROUSER_COLOURS).map((k) => `trousers-${k}`),
  ...HAIR.map((h) => `hair-${h}`),
  'headwear',
  'glasses',
  'build-heavy',
];
export const ROOM_ATTRIBUTES = [
  ...Object.keys(WALL_STYLES).map((k) => `wall-${k}`),
  ...FLOOR_STYLES.map((f) => `floor-${f}`),
  ...OBJECTS.map((o) => `object-${o}`),
];
export const PRIVACY_ATTRIBUTES = [...PERSON_ATTRIBUTES, ...ROOM_ATTRIBUTES];

export interface Person {
  skin: string;
  top: string;
  striped: boolean;
  trousers: string;
  hair: (typeof HAIR)[number];
  headwear: boolean;
  glasses: boolean;
  heavy: boolean;
}

export interface Room {
  wall: string;
  floor: (typeof FLOOR_STYLES)[number];
  objects: Partial<Record<(typeof OBJECTS)[number], { x: number; y: number; s: number; colour: RGB }>>;
}

export interface Motion {
  action: Action;
  x0: number; // horizontal position of the hips, in [0, 1] of the width
  scale: number; // body height as a fraction of the frame height
  speed: number; // playback rate of the action
  phase: number; // start phase of periodic motions
  facing: 1 | -1;
}

export interface SceneSpec {
  person: Person;
  room: Room;
  motion: Motion;
  light: { gain: number; drift: number }; // lighting level and its change over the clip
  noise: number; // sensor noise std (0–255 scale)
  jitter: number; // camera shake, pixels
}

const pick = <T>(rand: () => number, items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;

export function samplePerson(rand: () => number): Person {
  return {
    skin: pick(rand, Object.keys(SKIN_TONES)),
    top: pick(rand, Object.keys(TOP_COLOURS)),
    striped: rand() < 0.35,
    trousers: pick(rand, Object.keys(TROUSER_COLOURS)),
    hair: pick(rand, HAIR),
    headwear: rand() < 0.3,
    glasses: rand() < 0.35,
    heavy: rand() < 0.4,
  };
}

/** A room; `walls`/`floors` restrict the styles (the new-room split holds some out of training). */
export function sampleRoom(
  rand: () => number,
  walls: string[],
  floors: readonly (typeof FLOOR_STYLES)[number][],
): Room {
  const objects: Room['objects'] = {};
  for (const o of OBJECTS) {
    if (rand() < 0.45) {
      objects[o] = {
        x: 0.08 + 0.84 * rand(),
        y: rand(),
        s: 0.8 + 0.4 * rand(),
        colour: [60 + rand() * 160, 60 + rand() * 160, 60 + rand() * 160].map(Math.round) as RGB,
      };
    }
  }
  return { wall: pick(rand, walls), floor: pick(rand, floors), objects };
}

export function sampleMotion(rand: () => number, action: Action): Motion {
  return {
    action,
    x0: 0.28 + 0.44 * rand(),
    scale: 0.42 + 0.16 * rand(),
    speed: 0.8 + 0.5 * rand(),
    phase: rand(),
    facing: rand() < 0.5 ? 1 : -1,
  };
}

export function attributeVector(person: Person, room: Room): number[] {
  const on = new Set<string>([
    `skin-${person.skin}`,
    `top-${person.top}`,
    `trousers-${person.trousers}`,
    `hair-${person.hair}`,
    `wall-${room.wall}`,
    `floor-${room.floor}`,
  ]);
  if (person.striped) on.add('top-striped');
  if (person.headwear) on.add('headwear');
  if (person.glasses) on.add('glasses');
  if (person.heavy) on.add('build-heavy');
  for (const o of Object.keys(room.objects)) on.add(`object-${o}`);
  return PRIVACY_ATTRIBUTES.map((a) => (on.has(a) ? 1 : 0));
}

/**
 * Body configuration at time u ∈ [0, 1]. Angles in radians: the torso tilts by bodyAngle from
 * vertical; each limb is [upper segment angle from straight down (world frame), lower segment
 * angle relative to the upper one].
 */
export interface Pose {
  hipX: number; // fraction of width
  hipY: number; // fraction of body height above the floor line (0 = hips on the floor)
  bodyAngle: number; // torso tilt from vertical (π/2 = lying)
  armL: [number, number]; // shoulder, elbow
  armR: [number, number];
  legL: [number, number]; // hip, knee
  legR: [number, number];
}

const lerp = (a: number, b: number, t: number) => a + (b - a) * t;
const smooth = (t: number) => {
  const c = Math.min(1, Math.max(0, t));
  return c * c * (3 - 2 * c);
};

export function poseAt(m: Motion, u: number): Pose {
  const t = u * m.speed; // progress of one-shot actions
  const cyc = 2 * Math.PI * (m.phase + 2 * u * m.speed); // periodic actions: ~2 cycles per clip
  const stand: Pose = {
    hipX: m.x0,
    hipY: 0.5,
    bodyAngle: 0,
    armL: [0.1, 0.05],
    armR: [-0.1, -0.05],
    legL: [0.05, 0],
    legR: [-0.05, 0],
  };
  switch (m.action) {
    case 'walk-left':
    case 'walk-right': {
      const dir = m.action === 'walk-left' ? -1 : 1;
      const swing = 0.5 * Math.sin(cyc);
      return {
        ...stand,
        hipX: m.x0 + dir * 0.35 * (u - 0.5) * m.speed,
        hipY: 0.5 - 0.02 * Math.abs(Math.cos(cyc)),
        armL: [-swing * dir, 0.2],
        armR: [swing * dir, 0.2],
        legL: [swing * dir, Math.max(0, -Math.sin(cyc)) * 0.6],
        legR: [-swing * dir, Math.max(0, Math.sin(cyc)) * 0.6],
      };
    }
    case 'sit-down':
    case 'stand-up': {
      const s = smooth(m.action === 'sit-down' ? t : 1 - t);
      return {
        ...stand,
        hipY: lerp(0.5, 0.28, s),
        bodyAngle: 0.15 * Math.sin(Math.PI * s),
        legL: [lerp(0.05, -1.45, s) * m.facing, lerp(0, 1.5, s) * m.facing],
        legR: [lerp(-0.05, -1.4, s) * m.facing, lerp(0, 1.45, s) * m.facing],
        armL: [lerp(0.1, -0.5, s) * m.facing, 0.6 * s],
        armR: [lerp(-0.1, -0.4, s) * m.facing, 0.6 * s],
      };
    }
    case 'fall': {
      const s = smooth(t * 1.6);
      return {
        ...stand,
        hipX: m.x0 + 0.1 * s * m.facing,
        hipY: lerp(0.5, 0.06, s),
        bodyAngle: lerp(0, (Math.PI / 2) * m.facing, s),
        armL: [lerp(0.1, 2.2, s) * m.facing, 0.3 * s],
        armR: [lerp(-0.1, 1.8, s) * m.facing, 0.2 * s],
        legL: [lerp(0.05, Math.PI / 2 - 0.1, s) * m.facing, 0.2 * s],
        legR: [lerp(-0.05, Math.PI / 2 + 0.15, s) * m.facing, 0.1 * s],
      };
    }
    case 'wave':
      return { ...stand, armR: [-2.6 * m.facing, (0.6 + 0.5 * Math.sin(cyc * 1.5)) * m.facing] };
    case 'drink': {
      const s = Math.sin(Math.PI * Math.min(1, t)) ** 2;
      return { ...stand, armR: [lerp(-0.1, -1.2, s) * m.facing, lerp(-0.05, -2.4, s) * m.facing] };
    }
    case 'bend-pick': {
      const s = Math.sin(Math.PI * Math.min(1, t));
      return {
        ...stand,
        hipY: 0.5 - 0.05 * s,
        bodyAngle: 1.3 * s * m.facing,
        armL: [0.1 * (1 - s) - 0.15 * s * m.facing, 0],
        armR: [-0.1 * (1 - s) + 0.1 * s * m.facing, 0],
        legL: [0.05 + 0.25 * s * m.facing, -0.3 * s * m.facing],
        legR: [-0.05 + 0.25 * s * m.facing, -0.3 * s * m.facing],
      };
    }
    case 'lie-still': {
      const breathe = 0.01 * Math.sin(cyc);
      return {
        ...stand,
        hipY: 0.06 + breathe,
        bodyAngle: (Math.PI / 2) * m.facing,
        armL: [(Math.PI / 2) * m.facing, 0],
        armR: [(Math.PI / 2 - 0.2) * m.facing, 0],
        legL: [(Math.PI / 2 - 0.05) * m.facing, 0],
        legR: [(Math.PI / 2 + 0.05) * m.facing, 0],
      };
    }
    case 'clap': {
      const s = 0.5 + 0.5 * Math.sin(cyc * 1.5);
      return { ...stand, armL: [-1.2 * m.facing - 0.3 * s, -1.4 * s], armR: [-1.2 * m.facing + 0.3 * s, 1.4 * s] };
    }
  }
}
