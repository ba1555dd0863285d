/**
 * Strategies by name, for configs and CLIs:
 *   createStrategy('krum') or createStrategy({ name: 'trimmed-mean', options: { trim: 0.1 } }).
 * Unknown names and bad options throw an OptionError that lists what is accepted.
 */
import { balanceStrategy } from './balance.ts';
import { bristleStrategy, ldawaStrategy } from './bristle.ts';
import { bristleLdawaStrategy } from './bristle-ldawa.ts';
import { centeredClippingStrategy } from './centered-clipping.ts';
import { clippedGossipStrategy } from './clipped-gossip.ts';
import { krumStrategy, multiKrumStrategy } from './krum.ts';
import { meanStrategy } from './mean.ts';
import { medianStrategy } from './median.ts';
import { OptionError } from './options.ts';
import { trimmedMeanStrategy } from './trimmed-mean.ts';
import type { Strategy } from './types.ts';

/** The default strategy of a meshfl peer. */
export const DEFAULT_STRATEGY = 'bristle+ldawa';

// Factories validate their options themselves (unknown keys, types, ranges).
const FACTORIES: Readonly<Record<string, (options: never) => Strategy>> = {
  'bristle+ldawa': bristleLdawaStrategy,
  bristle: bristleStrategy,
  ldawa: ldawaStrategy,
  mean: meanStrategy,
  median: medianStrategy,
  'trimmed-mean': trimmedMeanStrategy,
  krum: krumStrategy,
  'multi-krum': multiKrumStrategy,
  'centered-clipping': centeredClippingStrategy,
  'clipped-gossip': clippedGossipStrategy,
  balance: balanceStrategy,
};

export type StrategySpec = string | { readonly name: string; readonly options?: Record<string, unknown> };

export function strategyNames(): string[] {
  return Object.keys(FACTORIES);
}

export function createStrategy(spec: StrategySpec): Strategy {
  const { name, options } = typeof spec === 'string' ? { name: spec, options: {} } : spec;
  if (typeof name !== 'string' || !Object.hasOwn(FACTORIES, name)) {
    throw new OptionError(`unknown merge strategy ${JSON.stringify(name)} (known: ${strategyNames().join(', ')})`);
  }
  const factory = FACTORIES[name] as (options: unknown) => Strategy;
  return factory(options ?? {});
}
