/** The result of one `npm run bench`: every section that ran, and the machine it ran on. */
import type { GossipResult } from '../gossip.ts';
import type { MergeRow } from '../merge.ts';
import type { PoolBenchResult } from '../pool.ts';
import type { TorchAnchorResult } from '../torch-anchor.ts';
import type { TrainBenchResult } from '../train.ts';
import type { WireBenchResult } from '../wire.ts';
import type { Machine } from './machine.ts';
import type { ProfileBenchResult } from './profile.ts';
import type { SimulationBenchResult } from './simulation.ts';

export const SECTIONS = ['train', 'torch', 'profile', 'wire', 'merge', 'gossip', 'simulation', 'pool'] as const;
export type Section = (typeof SECTIONS)[number];

export interface SuiteResult {
  readonly quick: boolean;
  readonly machine: Machine;
  /** Wall time of each section that ran (ms). */
  readonly sectionMs: Partial<Record<Section, number>>;
  train?: TrainBenchResult;
  torch?: TorchAnchorResult;
  profile?: ProfileBenchResult;
  wire?: WireBenchResult;
  merge?: readonly MergeRow[];
  gossip?: { readonly degree: number; readonly reps: number; readonly results: readonly GossipResult[] };
  simulation?: SimulationBenchResult;
  pool?: PoolBenchResult;
}
