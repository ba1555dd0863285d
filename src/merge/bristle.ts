/**
 * The paper's stages composed as strategies, kept for ablations (the default merge,
 * `bristle+ldawa`, is ./bristle-ldawa.ts):
 *  - `bristle`: distance prioritizer -> per-class performance integrator -> combine
 *  - `ldawa`: uniform integrator -> L-DAWA -> combine (L-DAWA alone)
 * Options are the union of the stages' options (flat: N, a, phi, warmupRounds); each stage
 * receives its own.
 */
import { BRISTLE_DISTANCE_SPEC, bristleDistance } from './bristle-distance.ts';
import { BRISTLE_PERFORMANCE_SPEC, bristlePerformance } from './bristle-performance.ts';
import { LDAWA_SPEC, ldawa } from './ldawa.ts';
import { type OptionsSpec, type Parsed, parseOptions, pick } from './options.ts';
import { pipeline } from './pipeline.ts';
import type { Strategy } from './types.ts';
import { uniformIntegrator } from './uniform.ts';

export const BRISTLE_SPEC = { ...BRISTLE_DISTANCE_SPEC, ...BRISTLE_PERFORMANCE_SPEC } as const satisfies OptionsSpec;

export type BristleOptions = Parsed<typeof BRISTLE_SPEC>;

export function bristleStrategy(options: Partial<BristleOptions> = {}): Strategy {
  const o = parseOptions('bristle', BRISTLE_SPEC, options);
  return pipeline({
    name: 'bristle',
    prioritizer: bristleDistance(pick(BRISTLE_DISTANCE_SPEC, o)),
    integrator: bristlePerformance(pick(BRISTLE_PERFORMANCE_SPEC, o)),
  });
}

export function ldawaStrategy(options: Partial<Parsed<typeof LDAWA_SPEC>> = {}): Strategy {
  const o = parseOptions('ldawa', LDAWA_SPEC, options);
  return pipeline({ name: 'ldawa', integrator: uniformIntegrator(), adjusters: [ldawa(o)] });
}
