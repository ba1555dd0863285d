/** Per-class classification metrics from predictions: pure, no tfjs. */
import type { ClassScores } from '../model/evaluation.ts';

/** Confusion matrix counts[true * K + predicted]. */
export function confusionMatrix(
  labels: ArrayLike<number>,
  predicted: ArrayLike<number>,
  numClasses: number,
): Uint32Array {
  if (labels.length !== predicted.length) throw new RangeError('labels and predictions differ in length');
  const m = new Uint32Array(numClasses * numClasses);
  for (let i = 0; i < labels.length; i++) {
    const idx = labels[i] * numClasses + predicted[i];
    m[idx] = m[idx] + 1;
  }
  return m;
}

/**
 * Accuracy (recall) and F1 per class, overall accuracy. A class with no samples and no
 * predictions scores 0 (it cannot be judged on this split).
 */
export function classScores(confusion: Uint32Array, numClasses: number, loss: number): ClassScores {
  const f1 = new Float64Array(numClasses);
  const accuracy = new Float64Array(numClasses);
  let correct = 0;
  let total = 0;
  for (let c = 0; c < numClasses; c++) {
    let actual = 0;
    let predicted = 0;
    for (let k = 0; k < numClasses; k++) {
      actual += confusion[c * numClasses + k];
      predicted += confusion[k * numClasses + c];
    }
    const tp = confusion[c * numClasses + c];
    correct += tp;
    total += actual;
    accuracy[c] = actual > 0 ? tp / actual : 0;
    f1[c] = actual + predicted > 0 ? (2 * tp) / (actual + predicted) : 0;
  }
  return { f1, accuracy, overallAccuracy: total > 0 ? correct / total : 0, loss };
}
