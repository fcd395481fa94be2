// FLOP counts of the engine's nets, derived from the same configs the engine builds them from
// (native-models/src/models.cc): every convolution and linear layer, layer by layer, at the shapes
// a step feeds it. Convention: 2 FLOP per multiply-add; BatchNorm, activations, pooling and losses
// are left out (they are memory-bound, a few % of the work). test/unit/flops.test.ts checks these
// layer lists against the engine's own parameter counts, so the two cannot drift apart.
import type { TrainConfig } from '../native-models/ts/index.js';

/** One weighted layer: its multiply-adds for the input it is given, and its parameters. */
export interface Layer {
  macs: number;
  params: number;
}

type ModelConfig = TrainConfig['model'];

/** A convolution; `norm`: followed by a BatchNorm (its scale and shift count as parameters). */
function conv(
  cin: number,
  cout: number,
  kernel: number[],
  outSpatial: number[],
  bias: boolean,
  batch: number,
  norm = !bias,
): Layer {
  const k = kernel.reduce((a, b) => a * b, 1);
  const out = outSpatial.reduce((a, b) => a * b, 1);
  return { macs: batch * cout * out * cin * k, params: cout * cin * k + (bias ? cout : 0) + (norm ? 2 * cout : 0) };
}

/** Output size of a convolution along one axis. */
const outSize = (size: number, k: number, stride: number, pad: number) => Math.floor((size + 2 * pad - k) / stride) + 1;

/** f_A, the UNet: DoubleConv blocks (3×3 convs with bias), 2× max-pool down, learned 2× up. */
export function unetLayers(fA: ModelConfig['fA'], frames: number, h: number, w: number): Layer[] {
  const ws = fA.widths;
  const layers: Layer[] = [];
  const double = (cin: number, cout: number, hh: number, ww: number) => {
    layers.push(conv(cin, cout, [3, 3], [hh, ww], !fA.batchNorm, frames, fA.batchNorm));
    layers.push(conv(cout, cout, [3, 3], [hh, ww], !fA.batchNorm, frames, fA.batchNorm));
  };
  double(3, ws[0]!, h, w);
  for (let i = 1; i < ws.length; i++) double(ws[i - 1]!, ws[i]!, h / 2 ** i, w / 2 ** i);
  for (let i = ws.length - 1; i >= 1; i--) {
    const [lh, lw] = [h / 2 ** i, w / 2 ** i];
    if (fA.upsample === 'pixelshuffle')
      layers.push(conv(ws[i]!, 4 * ws[i - 1]!, [1, 1], [lh, lw], true, frames, false));
    else if (fA.upsample === 'bilinear') layers.push(conv(ws[i]!, ws[i - 1]!, [1, 1], [lh, lw], true, frames, false));
    else {
      // ConvTranspose2d 2×2 stride 2: every input pixel feeds a 2×2 output patch.
      layers.push({ macs: frames * ws[i]! * ws[i - 1]! * 4 * lh * lw, params: ws[i]! * ws[i - 1]! * 4 + ws[i - 1]! });
    }
    double(2 * ws[i - 1]!, ws[i - 1]!, 2 * lh, 2 * lw);
  }
  layers.push(conv(ws[0]!, 3, [1, 1], [h, w], true, frames, false));
  return layers;
}

/** f_T, the R3D: a (3,7,7)/(1,2,2) stem, basic 3×3×3 blocks, global max-pool, a linear head. */
export function r3dLayers(
  fT: ModelConfig['fT'],
  classes: number,
  clips: number,
  t: number,
  h: number,
  w: number,
): Layer[] {
  const layers: Layer[] = [];
  let [tt, hh, ww] = [t, outSize(h, 7, 2, 3), outSize(w, 7, 2, 3)];
  layers.push(conv(3, fT.widths[0]!, [3, 7, 7], [tt, hh, ww], false, clips));
  let cin = fT.widths[0]!;
  fT.widths.forEach((width, s) => {
    for (let b = 0; b < fT.blocks[s]!; b++) {
      const stride = s > 0 && b === 0 ? 2 : 1;
      const [t2, h2, w2] = [outSize(tt, 3, stride, 1), outSize(hh, 3, stride, 1), outSize(ww, 3, stride, 1)];
      layers.push(conv(cin, width, [3, 3, 3], [t2, h2, w2], false, clips));
      layers.push(conv(width, width, [3, 3, 3], [t2, h2, w2], false, clips));
      if (stride !== 1 || cin !== width) layers.push(conv(cin, width, [1, 1, 1], [t2, h2, w2], false, clips));
      [tt, hh, ww, cin] = [t2, h2, w2, width];
    }
  });
  layers.push({ macs: clips * cin * classes, params: cin * classes + classes });
  return layers;
}

/** f_B, the 2-D ResNet (basic or bottleneck blocks) and its projection head. */
export function resnet2dLayers(fB: ModelConfig['fB'], frames: number, h: number, w: number): Layer[] {
  const layers: Layer[] = [];
  let [hh, ww] = fB.imagenetStem
    ? [outSize(h, 7, 2, 3), outSize(w, 7, 2, 3)]
    : [outSize(h, 3, 2, 1), outSize(w, 3, 2, 1)];
  layers.push(conv(3, fB.widths[0]!, fB.imagenetStem ? [7, 7] : [3, 3], [hh, ww], false, frames));
  if (fB.imagenetStem) [hh, ww] = [outSize(hh, 3, 2, 1), outSize(ww, 3, 2, 1)];
  let cin = fB.widths[0]!;
  fB.widths.forEach((width, s) => {
    for (let b = 0; b < fB.blocks[s]!; b++) {
      const stride = s > 0 && b === 0 ? 2 : 1;
      const [h2, w2] = [outSize(hh, 3, stride, 1), outSize(ww, 3, stride, 1)];
      const cout = fB.bottleneck ? 4 * width : width;
      if (fB.bottleneck) {
        layers.push(conv(cin, width, [1, 1], [hh, ww], false, frames));
        layers.push(conv(width, width, [3, 3], [h2, w2], false, frames));
        layers.push(conv(width, cout, [1, 1], [h2, w2], false, frames));
      } else {
        layers.push(conv(cin, width, [3, 3], [h2, w2], false, frames));
        layers.push(conv(width, width, [3, 3], [h2, w2], false, frames));
      }
      if (stride !== 1 || cin !== cout) layers.push(conv(cin, cout, [1, 1], [h2, w2], false, frames));
      [hh, ww, cin] = [h2, w2, cout];
    }
  });
  const d = fB.projDim;
  layers.push({ macs: frames * cin * cin, params: cin * cin + cin });
  layers.push({ macs: frames * cin * d, params: cin * d + d });
  return layers;
}

const sum = (layers: Layer[], key: keyof Layer) => layers.reduce((a, l) => a + l[key], 0);
export const macsOf = (layers: Layer[]) => sum(layers, 'macs');
export const paramsOf = (layers: Layer[]) => sum(layers, 'params');

/**
 * FLOP of one minimax iteration (step 1 + step 2) of the non-room engine on n clips × t frames
 * × h × w, split by net and pass. Backward of a layer = its input gradient (skipped for a net's
 * first layer when its input needs none) + its weight gradient (skipped for frozen nets), each as
 * many multiply-adds as the forward.
 */
export function minimaxFlops(
  model: ModelConfig,
  classes: number,
  clipFrames: number,
  n: number,
  t: number,
  h: number,
  w: number,
) {
  const fA = unetLayers(model.fA, n * t, h, w);
  const fT = r3dLayers(model.fT, classes, n, clipFrames, h, w);
  const fB = resnet2dLayers(model.fB, 2 * n, h, w); // two frames per clip
  const fwd = (l: Layer[]) => 2 * macsOf(l);
  const inputGrad = (l: Layer[]) => 2 * (macsOf(l) - l[0]!.macs);
  const phases = {
    // Step 1: f_A trains (its first layer's input, the frames, needs no gradient); f_T and f_B are
    // frozen but pass the gradient through to f_A, including their first layers.
    step1_fA_fwd: fwd(fA),
    step1_fT_fwd: fwd(fT),
    step1_fB_fwd: fwd(fB),
    step1_fT_bwd: fwd(fT),
    step1_fB_bwd: fwd(fB),
    step1_fA_bwd: fwd(fA) + inputGrad(fA),
    // Step 2: f_A runs without a graph; f_T and f_B train on its (detached) output.
    step2_fA_fwd: fwd(fA),
    step2_fT_fwd: fwd(fT),
    step2_fT_bwd: fwd(fT) + inputGrad(fT),
    step2_fB_fwd: fwd(fB),
    step2_fB_bwd: fwd(fB) + inputGrad(fB),
  };
  const total = Object.values(phases).reduce((a, b) => a + b, 0);
  return { total, phases, params: { fA: paramsOf(fA), fT: paramsOf(fT), fB: paramsOf(fB) } };
}
