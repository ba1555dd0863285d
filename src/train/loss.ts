/**
 * The training loss: softmax cross-entropy, the mean over the batch. On a backend with our
 * fused kernels (wasm: ./kernels/softmax-xent.ts) one kernel forward and one backward;
 * elsewhere tf.losses.softmaxCrossEntropy (the same value up to float rounding).
 */
import * as tf from '@tensorflow/tfjs';
import { SOFTMAX_XENT, SOFTMAX_XENT_GRAD } from './kernels/softmax-xent.ts';

export function softmaxCrossEntropy(labels: tf.Tensor2D, logits: tf.Tensor2D): tf.Scalar {
  if (tf.getKernel(SOFTMAX_XENT, tf.getBackend()) === undefined)
    return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
  // Labels are closed over, not an input: they take no gradient.
  const loss = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
    const [value, probs] = tf.engine().runKernel(SOFTMAX_XENT, { logits: x, labels }) as [tf.Scalar, tf.Tensor];
    save([probs]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.engine().runKernel(SOFTMAX_XENT_GRAD, { probs: saved[0] as tf.Tensor, labels, dy }) as tf.Tensor,
    };
  });
  return loss(logits) as tf.Scalar;
}
