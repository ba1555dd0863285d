/**
 * The page's state: one plain object, replaced (never mutated) on every change, rendered
 * by view.ts and exposed as `window.__meshfl` for tests and debugging.
 */
import type { RejectedUpdate } from '../../src/peer/events.ts';
import type { ConnectionView } from './connections.ts';
import type { LinkState } from './daemon-link.ts';
import type { DialState } from './network.ts';

export type Phase =
  | { readonly kind: 'idle' }
  | { readonly kind: 'loading'; readonly what: string }
  | { readonly kind: 'connecting'; readonly attempt: number }
  | { readonly kind: 'ready' }
  | { readonly kind: 'running' }
  | { readonly kind: 'pausing' }
  | { readonly kind: 'paused' }
  | { readonly kind: 'leaving' }
  | { readonly kind: 'left' }
  | { readonly kind: 'failed'; readonly error: string };

export interface RoundPoint {
  readonly round: number;
  readonly local: number | undefined;
  readonly merged: number | undefined;
  readonly closedBy: string;
  readonly candidates: number;
}

export interface NeighbourView {
  readonly peer: string;
  /** Share of the merged model this neighbour contributed in the last merge. */
  readonly share: number | undefined;
  readonly updates: number;
  readonly dial: DialState | undefined;
  /** Our round this neighbour's shun ends (its models kept harming our merges), if it is shunned. */
  readonly shunnedUntil?: number;
  /**
   * How often our merges rejected its models since the page opened, by reason (e.g.
   * `no-progress`, `harmful`): per merge, so a model judged in both gossip steps counts twice.
   */
  readonly mergeRejections: Readonly<Record<string, number>>;
}

export interface AppState {
  readonly phase: Phase;
  readonly taskId: string;
  readonly daemon: string | undefined;
  /** The connection to the daemon once joined: connected, or lost and being redialled. */
  readonly link: LinkState | undefined;
  readonly dataSource: string;
  readonly backend: string | undefined;
  /** Threads the wasm backend trains on (1 unless the page is cross-origin isolated). */
  readonly threads: number | undefined;
  /** Training speed of the last rounds: local samples per second of training time. */
  readonly samplesPerSecond: number | undefined;
  readonly peerId: string | undefined;
  /** Rounds completed. */
  readonly round: number;
  readonly history: readonly RoundPoint[];
  readonly perClass: readonly number[];
  readonly ownShare: number | undefined;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly updatesAccepted: number;
  readonly connections: readonly ConnectionView[];
  readonly neighbours: readonly NeighbourView[];
  readonly rejected: ReadonlyArray<RejectedUpdate & { readonly at: string }>;
  readonly errors: readonly string[];
}

export function initialState(taskId: string, daemon: string | undefined, dataSource: string): AppState {
  return {
    phase: { kind: 'idle' },
    taskId,
    daemon,
    link: undefined,
    dataSource,
    backend: undefined,
    threads: undefined,
    samplesPerSecond: undefined,
    peerId: undefined,
    round: 0,
    history: [],
    perClass: [],
    ownShare: undefined,
    bytesIn: 0,
    bytesOut: 0,
    updatesAccepted: 0,
    connections: [],
    neighbours: [],
    rejected: [],
    errors: [],
  };
}

export type Listener = (state: AppState) => void;

export class Store {
  #state: AppState;
  readonly #listeners = new Set<Listener>();

  constructor(state: AppState) {
    this.#state = state;
    this.#publish();
  }

  get state(): AppState {
    return this.#state;
  }

  update(change: Partial<AppState> | ((s: AppState) => Partial<AppState>)): void {
    const patch = typeof change === 'function' ? change(this.#state) : change;
    this.#state = { ...this.#state, ...patch };
    this.#publish();
  }

  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener);
    listener(this.#state);
    return () => this.#listeners.delete(listener);
  }

  #publish(): void {
    (globalThis as { __meshfl?: AppState }).__meshfl = this.#state;
    for (const l of this.#listeners) l(this.#state);
  }
}
