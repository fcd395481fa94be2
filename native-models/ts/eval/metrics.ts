// Evaluation metrics of the paper's protocol: action top-1, privacy cMAP (mean per-class average
// precision) and F1 (mean per-class at threshold 0.5), per-attribute AP.

/** Average precision of one class (area under the precision–recall curve, step-wise). */
export function averagePrecision(scores: ArrayLike<number>, labels: ArrayLike<number>): number | null {
  const n = scores.length;
  const positives = Array.from(labels).filter((l) => l > 0.5).length;
  if (positives === 0 || positives === n) return null; // undefined for a class that never varies
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
  let tp = 0;
  let sum = 0;
  order.forEach((idx, rank) => {
    if (labels[idx]! > 0.5) {
      tp++;
      sum += tp / (rank + 1);
    }
  });
  return sum / positives;
}

export interface MultiLabelScores {
  cmap: number;
  f1: number;
  perAttribute: Record<string, number | null>;
  perAttributeF1: Record<string, number | null>;
}

/**
 * logits [n × k] (row-major), labels [n × k] multi-hot, over the attributes in `names`.
 * Classes that do not vary in the test set are excluded from the means (reported as null).
 */
export function multiLabelScores(
  logits: Float32Array,
  labels: Float32Array,
  n: number,
  names: string[],
): MultiLabelScores {
  const k = names.length;
  const perAttribute: Record<string, number | null> = {};
  const perAttributeF1: Record<string, number | null> = {};
  const aps: number[] = [];
  const f1s: number[] = [];
  for (let c = 0; c < k; c++) {
    const s = new Float32Array(n);
    const y = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      s[i] = logits[i * k + c]!;
      y[i] = labels[i * k + c]!;
    }
    const ap = averagePrecision(s, y);
    perAttribute[names[c]!] = ap;
    perAttributeF1[names[c]!] = null;
    if (ap === null) continue;
    aps.push(ap);
    let tp = 0;
    let fp = 0;
    let fn = 0;
    for (let i = 0; i < n; i++) {
      const pred = s[i]! > 0; // sigmoid(logit) > 0.5
      if (pred && y[i]! > 0.5) tp++;
      else if (pred) fp++;
      else if (y[i]! > 0.5) fn++;
    }
    const f1 = tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn);
    perAttributeF1[names[c]!] = f1;
    f1s.push(f1);
  }
  const mean = (v: number[]) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : Number.NaN);
  return { cmap: mean(aps), f1: mean(f1s), perAttribute, perAttributeF1 };
}

export function top1(logits: Float32Array, labels: ArrayLike<number>, n: number, k: number): number {
  let correct = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < k; c++) if (logits[i * k + c]! > logits[i * k + best]!) best = c;
    if (best === labels[i]) correct++;
  }
  return correct / n;
}
