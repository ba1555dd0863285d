/** The page's training speed, shown in the UI: samples per second of local training time. */
import type { RoundSummary } from '../../src/peer/events.ts';
import { SPEED_WINDOW } from './constants.ts';

/** Samples per second of training time over the last SPEED_WINDOW rounds (round 0 warms up). */
export class TrainingSpeed {
  readonly #samplesPerRound: number;
  readonly #recent: number[] = [];

  constructor(samplesPerRound: number) {
    this.#samplesPerRound = samplesPerRound;
  }

  push(summary: Pick<RoundSummary, 'round' | 'trainMs'>): void {
    if (summary.round === 0 || !(summary.trainMs > 0)) return;
    this.#recent.push(summary.trainMs);
    if (this.#recent.length > SPEED_WINDOW) this.#recent.shift();
  }

  samplesPerSecond(): number | undefined {
    if (this.#recent.length === 0) return undefined;
    const ms = this.#recent.reduce((a, b) => a + b, 0);
    return (this.#samplesPerRound * this.#recent.length * 1000) / ms;
  }
}
