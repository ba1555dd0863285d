/**
 * Uniform integrator: every candidate weighs 1 on every merged layer, as much as own.
 * With no adjuster this is the plain unweighted average of own and candidates; it is the
 * integrator under L-DAWA when L-DAWA runs alone.
 */
import type { Integrator } from './pipeline.ts';
import { uniformWeighting } from './weighting.ts';

export function uniformIntegrator(): Integrator {
  return (_own, candidates, _ctx, layers) => uniformWeighting(candidates, layers, () => 1);
}
