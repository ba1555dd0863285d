/**
 * Overlay topologies for simulations and tests: a full mesh, or a random d-regular-ish
 * graph grown one node at a time from a seed.
 *
 * Growth keeps every degree fixed: a newcomer picks floor(d/2) random existing edges
 * (a, b), removes each and links a-new and b-new, so old nodes keep degree d and the new
 * one gets d (d - 1 rounded up by one extra link when d is odd). Removal pairs the
 * departed node's neighbours with each other, which keeps their degrees too. The same
 * seed and the same sequence of adds/removes give the same graph.
 */

import type { Rng } from '../data/rng.ts';
import { createRng } from '../data/rng.ts';

export type Topology =
  /** Everyone linked to everyone. */
  | { kind: 'full' }
  /** Random graph where every node has about `degree` neighbours. */
  | { kind: 'random-regular'; degree: number; seed: number };

export interface GraphChange {
  added: Array<[string, string]>;
  removed: Array<[string, string]>;
}

const edgeKey = (a: string, b: string): string => (a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`);

/** Attempts to find a usable random edge before falling back to a random non-neighbour. */
const EDGE_PICK_ATTEMPTS = 64;

export class OverlayGraph {
  readonly #topology: Topology;
  readonly #rng: Rng;
  readonly #adj = new Map<string, Set<string>>();
  /** Edge list with an index for O(1) random pick and removal. */
  readonly #edges: Array<[string, string]> = [];
  readonly #edgeIndex = new Map<string, number>();

  constructor(topology: Topology) {
    if (topology.kind === 'random-regular' && !(topology.degree >= 1)) {
      throw new RangeError(`degree must be >= 1, got ${topology.degree}`);
    }
    this.#topology = topology;
    this.#rng = createRng(topology.kind === 'random-regular' ? topology.seed : 0);
  }

  nodes(): string[] {
    return [...this.#adj.keys()];
  }

  neighbours(node: string): string[] {
    return [...(this.#adj.get(node) ?? [])];
  }

  has(a: string, b: string): boolean {
    return this.#adj.get(a)?.has(b) ?? false;
  }

  edgeList(): Array<[string, string]> {
    return this.#edges.map(([a, b]) => [a, b]);
  }

  /** Add a node and wire it according to the topology. */
  add(node: string): GraphChange {
    if (this.#adj.has(node)) throw new Error(`node ${node} already in the graph`);
    const change: GraphChange = { added: [], removed: [] };
    const existing = this.nodes();
    this.#adj.set(node, new Set());
    if (this.#topology.kind === 'full' || existing.length <= this.#topology.degree) {
      for (const other of existing) this.link(node, other, change);
      return change;
    }
    const degree = this.#topology.degree;
    for (let k = 0; k < Math.floor(degree / 2); k++) {
      let done = false;
      for (let attempt = 0; attempt < EDGE_PICK_ATTEMPTS && !done; attempt++) {
        const [a, b] = this.#edges[this.#rng.int(this.#edges.length)];
        if (a === node || b === node || this.has(a, node) || this.has(b, node)) continue;
        this.unlink(a, b, change);
        this.link(a, node, change);
        this.link(b, node, change);
        done = true;
      }
      if (!done) this.#linkRandom(node, change);
    }
    if (degree % 2 === 1) this.#linkRandom(node, change);
    return change;
  }

  /** Remove a node and re-pair its neighbours with each other. */
  remove(node: string): GraphChange {
    const change: GraphChange = { added: [], removed: [] };
    const mine = this.#adj.get(node);
    if (mine == null) return change;
    const orphans = [...mine];
    for (const other of orphans) this.unlink(node, other, change);
    this.#adj.delete(node);
    if (this.#topology.kind === 'random-regular') {
      this.#rng.shuffle(orphans);
      for (let i = 0; i + 1 < orphans.length; i += 2) {
        if (!this.has(orphans[i], orphans[i + 1])) this.link(orphans[i], orphans[i + 1], change);
      }
    }
    return change;
  }

  /** Link two nodes explicitly (tests and partition scenarios). */
  link(a: string, b: string, change?: GraphChange): boolean {
    if (a === b || this.has(a, b)) return false;
    const sa = this.#adj.get(a);
    const sb = this.#adj.get(b);
    if (sa == null || sb == null) throw new Error(`cannot link unknown node ${sa == null ? a : b}`);
    sa.add(b);
    sb.add(a);
    this.#edgeIndex.set(edgeKey(a, b), this.#edges.length);
    this.#edges.push([a, b]);
    change?.added.push([a, b]);
    return true;
  }

  /** Unlink two nodes explicitly. */
  unlink(a: string, b: string, change?: GraphChange): boolean {
    const key = edgeKey(a, b);
    const i = this.#edgeIndex.get(key);
    if (i == null) return false;
    const last = this.#edges.pop()!;
    if (i < this.#edges.length) {
      this.#edges[i] = last;
      this.#edgeIndex.set(edgeKey(last[0], last[1]), i);
    }
    this.#edgeIndex.delete(key);
    this.#adj.get(a)?.delete(b);
    this.#adj.get(b)?.delete(a);
    change?.removed.push([a, b]);
    return true;
  }

  #linkRandom(node: string, change: GraphChange): void {
    const candidates = this.nodes().filter((n) => n !== node && !this.has(n, node));
    if (candidates.length > 0) this.link(node, candidates[this.#rng.int(candidates.length)], change);
  }
}

/** Edges of a topology over nodes 0..n-1 (by index), for wiring real nodes. */
export function topologyEdges(n: number, topology: Topology): Array<[number, number]> {
  const graph = new OverlayGraph(topology);
  for (let i = 0; i < n; i++) graph.add(String(i));
  return graph.edgeList().map(([a, b]) => [Number(a), Number(b)]);
}
