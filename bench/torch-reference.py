#!/usr/bin/env python3
"""Same-work PyTorch reference of the SPAct engine's minimax iteration (bench:engine, issue 12).

The edge nets of native-models/src/models.cc ported layer by layer (same module and parameter
names, so a checkpoint written by the engine loads with load_state_dict), and one minimax iteration
as native-models/src/engine.cc runs it for budgetLoss "ntxent" without room mode or distillation:

  step 1 (Engine::stepA): f_A trained on L_T - omega * L_B; f_T, f_B and the projection frozen —
    train-mode BatchNorm on batch statistics with the running statistics restored afterwards
    (BatchStatsNoUpdate) and no weight gradients (NoWeightGrad), gradients still flowing into f_A;
  step 2 (Engine::stepTB -> initTB): f_A in eval mode under no_grad, then f_T trained on L_T, then
    f_B + projection trained on NT-Xent over two frames of each clip (one pass of the 2N frames).

Two layouts: "plain" (NCHW everywhere: what a practitioner writes) and "channels-last" (what the
engine does: f_A's 4-d weights in NHWC, UNetImpl::applyMemoryFormat, and the frames a
channels-last view of the NTHWC uint8 input, Engine::prepare; every later op follows the engine's
view ops, so the layouts that reach f_T and f_B are the engine's too).

Modes (one JSON object on stdout):
  time   warm-up, then ms per iteration over --iterations iterations (median and every sample),
         on the bench:engine batch (4 clips x 8 frames x 64², 8 actions, no augmentation).
  check  loads the engine's weights (Engine::save, read with torch.jit.load) and a batch from
         files, runs anonymize(), step 1, step 2, step 1 again and anonymize() per layout, prints
         the losses (anonymize() outputs go to files).
         The batch must make the engine's random choices deterministic: t = 2 and a clip span of 2
         (then the clip window is frame 0 and the NT-Xent pair is frames {0, 1} — its order does not
         change the loss, a permutation that keeps the pairs).

Usage:
  python3 bench/torch-reference.py time --layout channels-last --threads 2 --iterations 12
  python3 bench/torch-reference.py check --spec spec.json
Needs Debian's python3-torch (the same libtorch 1.13 as the engine).
"""
import argparse
import json
import math
import os
import random
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# bench/engine.ts's engine config: the edge preset (native-models/ts/config.ts) with augmentation
# off, 4 clips x 8 frames (clipFrames 8, frameStride 1), 8 actions, optim lr 1e-3.
EDGE = {
    "fA": {"widths": [16, 32, 64], "upsample": "bilinear", "batchNorm": False, "channelsLast": True},
    "fT": {"widths": [16, 32, 64, 128], "blocks": [1, 1, 1, 1]},
    "fB": {"widths": [16, 32, 64, 128], "blocks": [1, 1, 1, 1], "bottleneck": False, "imagenetStem": False, "projDim": 128},
    "numActions": 8,
    "multiLabelActions": False,
    "budgetLoss": "ntxent",
    "freezeBudget": False,
    "distill": False,
    "temperature": 0.1,
    "omega": 0.5,
    "clipFrames": 8,
    "frameStride": 1,
    "sampler": "random",
    "lrA": 1e-3,
    "lrT": 1e-3,
    "lrB": 1e-3,
    "weightDecay": 0.0,
    "augment": {"enabled": False},
    "room": {"enabled": False},
    "seed": 0,
}
BENCH_SHAPE = {"n": 4, "t": 8, "h": 64, "w": 64}


# --- networks (native-models/src/models.cc) -------------------------------------------------------


def conv2d(cin, cout, k, stride=1, bias=True):
    return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=bias)


class DoubleConv(nn.Module):
    def __init__(self, cin, cout, bn):
        super().__init__()
        layers = [conv2d(cin, cout, 3, 1, not bn)]
        if bn:
            layers.append(nn.BatchNorm2d(cout))
        layers += [nn.ReLU(inplace=True), conv2d(cout, cout, 3, 1, not bn)]
        if bn:
            layers.append(nn.BatchNorm2d(cout))
        layers.append(nn.ReLU(inplace=True))
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return self.body(x)


class BilinearUp(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = conv2d(cin, cout, 1)

    def forward(self, x):
        return F.interpolate(self.conv(x), scale_factor=(2.0, 2.0), mode="bilinear", align_corners=False)


class PixelShuffleUp(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = conv2d(cin, cout * 4, 1)
        self.shuffle = nn.PixelShuffle(2)

    def forward(self, x):
        return self.shuffle(self.conv(x))


class TransposeUp(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.ConvTranspose2d(cin, cout, 2, stride=2)

    def forward(self, x):
        return self.conv(x)


UPSAMPLERS = {"bilinear": BilinearUp, "pixelshuffle": PixelShuffleUp, "transpose": TransposeUp}


class UNet(nn.Module):
    """f_A: per-frame UNet, sigmoid output. Modules registered in the engine's order and names."""

    def __init__(self, cfg, channels_last):
        super().__init__()
        w = cfg["widths"]
        bn = cfg["batchNorm"]
        self.channels_last = channels_last
        self.inc = DoubleConv(3, w[0], bn)
        self.down = []
        for i in range(1, len(w)):
            m = DoubleConv(w[i - 1], w[i], bn)
            self.add_module(f"down{i}", m)
            self.down.append(m)
        self.up, self.dec = [], []
        for i in range(len(w) - 1, 0, -1):
            u = UPSAMPLERS[cfg["upsample"]](w[i], w[i - 1])
            self.add_module(f"up{i}", u)
            d = DoubleConv(2 * w[i - 1], w[i - 1], bn)
            self.add_module(f"dec{i}", d)
            self.up.append(u)
            self.dec.append(d)
        self.outc = conv2d(w[0], 3, 1)
        self.apply_memory_format()

    def divisor(self):
        return 1 << len(self.down)

    def apply_memory_format(self):
        """UNetImpl::applyMemoryFormat: 4-d weights in NHWC (after construction and loading)."""
        if not self.channels_last:
            return
        with torch.no_grad():
            for p in self.parameters():
                if p.dim() == 4:
                    p.data = p.data.contiguous(memory_format=torch.channels_last)

    def forward(self, x):
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        skips = []
        h = self.inc(x)
        for d in self.down:
            skips.append(h)
            h = d(F.max_pool2d(h, 2))
        for i, (u, d) in enumerate(zip(self.up, self.dec)):
            h = u(h)
            h = d(torch.cat([skips[len(skips) - 1 - i], h], 1))
        return torch.sigmoid(self.outc(h))


class BasicBlock3d(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv3d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.b1 = nn.BatchNorm3d(cout)
        self.c2 = nn.Conv3d(cout, cout, 3, padding=1, bias=False)
        self.b2 = nn.BatchNorm3d(cout)
        sc = []
        if stride != 1 or cin != cout:
            sc = [nn.Conv3d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm3d(cout)]
        self.shortcut = nn.Sequential(*sc)

    def forward(self, x):
        h = torch.relu(self.b1(self.c1(x)))
        h = self.b2(self.c2(h))
        s = x if len(self.shortcut) == 0 else self.shortcut(x)
        return torch.relu(h + s)


class R3D(nn.Module):
    """f_T: R3D-style 3D CNN, BatchNorm, global max pooling. Input [N, 3, T, H, W]."""

    def __init__(self, cfg, num_classes):
        super().__init__()
        w, blocks = cfg["widths"], cfg["blocks"]
        self.stem = nn.Sequential(
            nn.Conv3d(3, w[0], (3, 7, 7), stride=(1, 2, 2), padding=(1, 3, 3), bias=False),
            nn.BatchNorm3d(w[0]),
            nn.ReLU(inplace=True),
        )
        stages, cin = [], w[0]
        for s, width in enumerate(w):
            for b in range(blocks[s]):
                stages.append(BasicBlock3d(cin, width, 2 if (s > 0 and b == 0) else 1))
                cin = width
        self.stages = nn.Sequential(*stages)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        h = self.stages(self.stem(x))
        return self.fc(h.flatten(2).max(2)[0])


class Block2d(nn.Module):
    def __init__(self, cin, width, stride, bottleneck):
        super().__init__()
        if bottleneck:
            self.out_channels = width * 4
            body = [
                nn.Conv2d(cin, width, 1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
                nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
                nn.Conv2d(width, self.out_channels, 1, bias=False),
                nn.BatchNorm2d(self.out_channels),
            ]
        else:
            self.out_channels = width
            body = [
                nn.Conv2d(cin, width, 3, stride=stride, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
                nn.Conv2d(width, width, 3, padding=1, bias=False),
                nn.BatchNorm2d(width),
            ]
        self.body = nn.Sequential(*body)
        sc = []
        if stride != 1 or cin != self.out_channels:
            sc = [nn.Conv2d(cin, self.out_channels, 1, stride=stride, bias=False), nn.BatchNorm2d(self.out_channels)]
        self.shortcut = nn.Sequential(*sc)

    def forward(self, x):
        s = x if len(self.shortcut) == 0 else self.shortcut(x)
        return torch.relu(self.body(x) + s)


class ResNet2d(nn.Module):
    """f_B backbone: ResNet-style 2D CNN, global average pooling."""

    def __init__(self, cfg):
        super().__init__()
        w, blocks = cfg["widths"], cfg["blocks"]
        if cfg["imagenetStem"]:
            stem = [
                nn.Conv2d(3, w[0], 7, stride=2, padding=3, bias=False),
                nn.BatchNorm2d(w[0]),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(3, stride=2, padding=1),
            ]
        else:
            stem = [nn.Conv2d(3, w[0], 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(w[0]), nn.ReLU(inplace=True)]
        self.stem = nn.Sequential(*stem)
        stages, cin = [], w[0]
        for s, width in enumerate(w):
            for b in range(blocks[s]):
                block = Block2d(cin, width, 2 if (s > 0 and b == 0) else 1, cfg["bottleneck"])
                cin = block.out_channels
                stages.append(block)
        self.stages = nn.Sequential(*stages)
        self.feature_dim = cin

    def forward(self, x):
        return self.stages(self.stem(x)).mean((2, 3))


class Projection(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.l1 = nn.Linear(cin, cin)
        self.l2 = nn.Linear(cin, cout)

    def forward(self, x):
        return F.normalize(self.l2(torch.relu(self.l1(x))), dim=1)


# --- losses (native-models/src/losses.cc) ---------------------------------------------------------


def nt_xent(z1, z2, tau):
    n = z1.size(0)
    z = F.normalize(torch.cat([z1, z2], 0), dim=1)
    sim = torch.mm(z, z.t()) / tau
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
    positives = (torch.arange(2 * n) + n) % (2 * n)
    return F.cross_entropy(sim, positives)


def accuracy(logits, target):
    with torch.no_grad():
        return logits.argmax(1).eq(target).to(torch.float32).mean().item()


# --- the engine's steps (native-models/src/engine.cc) ---------------------------------------------


class Reference:
    def __init__(self, cfg, layout, deterministic_pairs=False, seed=0):
        if cfg.get("budgetLoss", "ntxent") != "ntxent" or cfg.get("distill") or cfg.get("room", {}).get("enabled"):
            raise SystemExit("torch-reference: only budgetLoss ntxent without distillation or room mode")
        if cfg.get("multiLabelActions") or cfg.get("freezeBudget") or cfg.get("augment", {}).get("enabled"):
            raise SystemExit("torch-reference: single-label actions, f_B trained, augmentation off only")
        if cfg.get("sampler", "random") != "random":
            raise SystemExit("torch-reference: temporal sampler 'random' only")
        torch.manual_seed(seed)
        self.cfg = cfg
        self.channels_last = layout == "channels-last"
        self.fA = UNet(cfg["fA"], self.channels_last)
        self.fT = R3D(cfg["fT"], cfg["numActions"])
        self.fB = ResNet2d(cfg["fB"])
        self.proj = Projection(self.fB.feature_dim, cfg["fB"]["projDim"])
        self.deterministic_pairs = deterministic_pairs
        self.rng = random.Random(seed)
        self.make_optimizers()

    def budget_parameters(self):
        return list(self.fB.parameters()) + list(self.proj.parameters())

    def make_optimizers(self):
        wd = self.cfg.get("weightDecay", 0.0)
        self.optA = torch.optim.Adam(self.fA.parameters(), lr=self.cfg["lrA"], weight_decay=wd)
        self.optT = torch.optim.Adam(self.fT.parameters(), lr=self.cfg["lrT"], weight_decay=wd)
        self.optB = torch.optim.Adam(self.budget_parameters(), lr=self.cfg["lrB"], weight_decay=wd)

    def parameter_counts(self):
        count = lambda ps: sum(p.numel() for p in ps)  # noqa: E731
        return {"fA": count(self.fA.parameters()), "fT": count(self.fT.parameters()), "fB": count(self.budget_parameters())}

    def load_engine_weights(self, path):
        """A checkpoint of Engine::save (torch::serialize::OutputArchive = a TorchScript archive)."""
        archive = torch.jit.load(path, map_location="cpu")
        state = archive.state_dict()
        for key, module in (("fA", self.fA), ("fT", self.fT), ("fB", self.fB), ("proj", self.proj)):
            sub = {k[len(key) + 1 :]: v for k, v in state.items() if k.startswith(key + ".")}
            module.load_state_dict(sub, strict=True)
        self.fA.apply_memory_format()
        self.make_optimizers()  # fresh Adam state, as a weights-only load leaves the engine's

    # Engine::prepare without augmentation: logical [N, T, 3, H, W]; for the engine a view of the
    # NTHWC input (every f_A frame channels-last), for "plain" a contiguous NCHW copy.
    def prepare(self, frames_u8):
        x = frames_u8.to(torch.float32).div_(255.0).permute(0, 1, 4, 2, 3)
        return x if self.channels_last else x.contiguous()

    def apply_a(self, x):
        s = x.shape
        return self.fA(x.reshape(s[0] * s[1], s[2], s[3], s[4])).reshape(s)

    def span(self):
        return (self.cfg["clipFrames"] - 1) * self.cfg["frameStride"] + 1

    def clip_for_t(self, frames):
        t = frames.size(1)
        s0 = 0 if self.deterministic_pairs else self.rng.randint(0, t - self.span())
        clip = frames[:, s0 : s0 + self.span() : self.cfg["frameStride"]]
        return clip.permute(0, 2, 1, 3, 4)

    def sample_pair(self, frames):
        n, t = frames.size(0), frames.size(1)
        if self.deterministic_pairs:
            i1, i2 = [0] * n, [1] * n
        else:
            i1, i2 = [], []
            for _ in range(n):
                a = self.rng.randrange(t)
                b = a
                while b == a:
                    b = self.rng.randrange(t)
                i1.append(a)
                i2.append(b)
        rows = torch.arange(n)
        return frames[rows, torch.tensor(i1)], frames[rows, torch.tensor(i2)]

    def budget_loss(self, frames):
        f1, f2 = self.sample_pair(frames)
        n = f1.size(0)
        # One pass through f_B for both frames: BatchNorm sees the whole 2N batch.
        z = self.proj(self.fB(torch.cat([f1, f2], 0)))
        return nt_xent(z[:n], z[n:], self.cfg["temperature"])

    def step_a(self, frames_u8, actions):
        """Engine::stepA: f_A on L_T - omega * L_B, f_T / f_B / proj frozen."""
        x = self.prepare(frames_u8)
        self.fA.train()
        frozen_modules = (self.fT, self.fB, self.proj)
        with torch.no_grad():  # BatchStatsNoUpdate
            saved = []
            for m in frozen_modules:
                m.train()
                saved += [(b, b.clone()) for b in m.buffers()]
        frozen = list(self.fT.parameters()) + self.budget_parameters()  # NoWeightGrad
        for p in frozen:
            p.requires_grad_(False)
        try:
            a = self.apply_a(x)
            logits = self.fT(self.clip_for_t(a))
            lt = F.cross_entropy(logits, actions)
            lb = self.budget_loss(a)
            loss = lt - self.cfg["omega"] * lb
            s = {"loss_T": lt.item(), "loss_B": lb.item(), "acc_T": accuracy(logits, actions)}
            s["l1"] = (a.detach() - x).abs().mean().item()
            self.optA.zero_grad()
            loss.backward()
            self.optA.step()
        finally:
            for p in frozen:
                p.requires_grad_(True)
            with torch.no_grad():
                for live, copy in saved:
                    live.copy_(copy)
        return s

    def step_tb(self, frames_u8, actions):
        """Engine::stepTB -> initTB(updateT, updateB): f_A fixed, f_T then f_B + proj trained."""
        x = self.prepare(frames_u8)
        with torch.no_grad():
            self.fA.eval()
            a = self.apply_a(x)
        s = {}
        self.fT.train()
        logits = self.fT(self.clip_for_t(a))
        lt = F.cross_entropy(logits, actions)
        s["loss_T"] = lt.item()
        s["acc_T"] = accuracy(logits, actions)
        self.optT.zero_grad()
        lt.backward()
        self.optT.step()
        self.fB.train()
        lb = self.budget_loss(a)
        s["loss_B"] = lb.item()
        self.optB.zero_grad()
        lb.backward()
        self.optB.step()
        return s

    def anonymize(self, frames_nhwc_u8):
        """Engine::anonymize: uint8 [N, H, W, 3] -> uint8 [N, H, W, 3]."""
        with torch.inference_mode():
            self.fA.eval()
            x = frames_nhwc_u8.permute(0, 3, 1, 2).to(torch.float32).div_(255.0)
            if not self.channels_last:
                x = x.contiguous()
            h, w, div = x.size(2), x.size(3), self.fA.divisor()
            ph, pw = (div - h % div) % div, (div - w % div) % div
            if ph or pw:
                x = F.pad(x, (0, pw, 0, ph), mode="reflect" if (ph < h and pw < w) else "replicate")
            y = self.fA(x)
            if ph or pw:
                y = y[:, :, :h, :w]
            return y.mul(255.0).round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()


# --- modes ----------------------------------------------------------------------------------------


def bench_batch(n, t, h, w, num_actions):
    """bench/engine.ts randomBatch(): frames[i] = (i * 2654435761) >>> 24, actions i % 8."""
    i = torch.arange(n * t * h * w * 3, dtype=torch.int64)
    frames = (((i * 2654435761) & 0xFFFFFFFF) >> 24).to(torch.uint8).reshape(n, t, h, w, 3)
    actions = torch.arange(n, dtype=torch.int64) % num_actions
    return frames, actions


def mode_time(args):
    cfg = dict(EDGE)
    if args.config:
        cfg.update(json.loads(args.config))
    shape = dict(BENCH_SHAPE)
    if args.shape:
        shape.update(json.loads(args.shape))
    torch.set_num_threads(args.threads)
    ref = Reference(cfg, args.layout, seed=cfg.get("seed", 0))
    if args.weights:
        ref.load_engine_weights(args.weights)
    b1 = bench_batch(shape["n"], shape["t"], shape["h"], shape["w"], cfg["numActions"])
    b2 = bench_batch(shape["n"], shape["t"], shape["h"], shape["w"], cfg["numActions"])
    samples = []
    for k in range(args.warmup + args.iterations):
        t0 = time.perf_counter()
        ref.step_a(*b1)
        ref.step_tb(*b2)
        ms = (time.perf_counter() - t0) * 1000
        if k >= args.warmup:
            samples.append(ms)
    return {
        "mode": "time",
        "layout": args.layout,
        "threads": torch.get_num_threads(),
        "shape": shape,
        "warmup": args.warmup,
        "iterations": args.iterations,
        "msPerIteration": statistics.median(samples),
        "samples": samples,
        "parameters": ref.parameter_counts(),
        "torch": torch.__version__,
        "ompWaitPolicy": os.environ.get("OMP_WAIT_POLICY"),
        "loadavg": os.getloadavg(),
    }


def mode_check(args):
    with open(args.spec, encoding="utf8") as f:
        spec = json.load(f)
    cfg = dict(EDGE)
    cfg.update(spec.get("config", {}))
    n, t, h, w = spec["n"], spec["t"], spec["h"], spec["w"]
    if t != 2 or (cfg["clipFrames"] - 1) * cfg["frameStride"] + 1 != 2:
        raise SystemExit("torch-reference check: needs t = 2 and a clip span of 2 (deterministic window and pair)")
    with open(spec["batch"], "rb") as f:
        raw = f.read()
    if len(raw) != n * t * h * w * 3:
        raise SystemExit(f"torch-reference check: batch file has {len(raw)} bytes, expected {n * t * h * w * 3}")
    frames = torch.frombuffer(bytearray(raw), dtype=torch.uint8).reshape(n, t, h, w, 3)
    actions = torch.tensor(spec["actions"], dtype=torch.int64)
    torch.set_num_threads(spec.get("threads", 2))
    out = {"mode": "check", "torch": torch.__version__, "layouts": {}}
    for layout in spec.get("layouts", ["plain", "channels-last"]):
        ref = Reference(cfg, layout, deterministic_pairs=True)
        ref.load_engine_weights(spec["weights"])
        out["parameters"] = ref.parameter_counts()
        r = {}

        def anonymize(name):
            if spec.get("anonymizeOut"):
                path = f"{spec['anonymizeOut']}.{layout}.{name}.bin"
                with open(path, "wb") as f:
                    f.write(ref.anonymize(frames.reshape(n * t, h, w, 3)).numpy().tobytes())
                r[name] = path

        anonymize("anonymizeBefore")  # the engine's checkpoint replayed
        r["step1"] = ref.step_a(frames, actions)
        r["step2"] = ref.step_tb(frames, actions)
        r["step1b"] = ref.step_a(frames, actions)
        anonymize("anonymizeAfter")  # after two f_A updates
        out["layouts"][layout] = r
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="mode", required=True)
    t = sub.add_parser("time", help="ms per minimax iteration")
    t.add_argument("--layout", choices=["plain", "channels-last"], default="channels-last")
    t.add_argument("--threads", type=int, default=2)
    t.add_argument("--iterations", type=int, default=12)
    t.add_argument("--warmup", type=int, default=3)
    t.add_argument("--config", help="JSON: engine config fields over the edge defaults (engineConfigOf)")
    t.add_argument("--shape", help='JSON: {"n", "t", "h", "w"} over 4 x 8 x 64 x 64')
    t.add_argument("--weights", help="start from an engine checkpoint instead of a fresh init")
    c = sub.add_parser("check", help="one tiny step on the engine's weights and batch")
    c.add_argument("--spec", required=True, help="JSON: weights, batch, n, t, h, w, actions, config, layouts")
    args = p.parse_args()
    out = mode_time(args) if args.mode == "time" else mode_check(args)
    for r in out.get("layouts", {}).values():
        for s in r.values():
            if isinstance(s, dict) and not all(math.isfinite(v) for v in s.values()):
                print(json.dumps(out), file=sys.stderr)
                raise SystemExit("torch-reference: non-finite loss")
    sys.stdout.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
