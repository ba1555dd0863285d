/** meshfl Byzantine attacks: pure functions over labels and Weights, plus a registry. */
export {
  type AdaptiveAlieOptions,
  adaptiveAlieAttack,
  medianDistanceToMean,
  pairwiseNoiseSigma,
} from './adaptive-alie.ts';
export { type AlieOptions, alieAttack, alieModel, alieZ } from './alie.ts';
export {
  type DeadInputBlowupOptions,
  deadInputBlowupAttack,
  deadInputMask,
  firstInputLayer,
} from './dead-input-blowup.ts';
export { freeRiderAttack } from './free-rider.ts';
export { gaussianModelAttack, gaussianNoiseAttack } from './gaussian.ts';
export { type IpmOptions, ipmAttack } from './ipm.ts';
export { flipLabels, type LabelFlip, labelFlipAttack } from './label-flip.ts';
export { normalQuantile } from './normal-quantile.ts';
export { outputNoiseAttack } from './output-noise.ts';
export { fineTuneUntil, type PublicSetOptions, publicSetAttack, topCertainty } from './public-set.ts';
export { type AttackSpec, attackNames, createAttack } from './registry.ts';
export { scalingAttack } from './scaling.ts';
export { signFlipAttack } from './sign-flip.ts';
export { type Attack, type AttackInput, type ModelAttack, type PublicSetAccess, trainingLabels } from './types.ts';
