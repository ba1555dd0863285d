/**
 * Neighbours and gossip steps per round (PeerOptions.neighbours, gossipSteps): constants
 * only, so that scenario and config parsing can use them without loading the Peer (and
 * with it tfjs and libp2p).
 */

/**
 * D, the neighbours a peer takes updates from unless told otherwise (PeerOptions.neighbours,
 * the PeerSampler's view size). Defined here, not in src/net, so that parsing a scenario or
 * a config loads nothing of the network (test/cli/lazy-imports).
 */
export const DEFAULT_NEIGHBOURS = 8;

/** Gossip steps per round with D neighbours, unless PeerOptions.gossipSteps says otherwise. */
export const NEIGHBOUR_GOSSIP_STEPS = 2;

/** The default gossip steps: NEIGHBOUR_GOSSIP_STEPS with D neighbours, 1 with 'all'. */
export function defaultGossipSteps(neighbours: number | 'all'): number {
  return neighbours === 'all' ? 1 : NEIGHBOUR_GOSSIP_STEPS;
}

/**
 * Harm verdicts (of the last 2 x this many) that shun a sender with D neighbours
 * (PeerOptions.shunAfter, src/peer/shunning.ts): at D = 8 it took 30% sign flip from 80.2
 * to 85.9 and 50% ALIE from 58.6 to 74.1 (seed 1, docs/ALGORITHMS.md "Shunning").
 */
export const NEIGHBOUR_SHUN_AFTER = 2;

/**
 * The default shunAfter: NEIGHBOUR_SHUN_AFTER with D neighbours, where another peer takes a
 * shunned one's slot; 0 (never) with 'all', where every peer is a candidate anyway and the
 * merge alone decides.
 */
export function defaultShunAfter(neighbours: number | 'all'): number {
  return neighbours === 'all' ? 0 : NEIGHBOUR_SHUN_AFTER;
}

/** Most gossip steps per round (each is a publication to every follower and a merge). */
export const MAX_GOSSIP_STEPS = 8;
