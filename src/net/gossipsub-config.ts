/**
 * Gossipsub configured for a low-rate federated-learning topic, plus the services every
 * meshfl libp2p node carries. Environment-neutral: imported by both the Node and the
 * browser factories.
 *
 * Scoring (see FIELD-NOTES "Gossipsub limits and scoring"): an FL topic carries about one
 * message per peer per round (tens of seconds), so the default mesh-delivery-rate
 * penalties (P3, P3b) would punish honest peers; they are off. Invalid messages (P4) are
 * the main negative signal, weighted so one rejected update costs about as much as a
 * peer's whole positive topic score, and decaying slowly (half-life ~2.3 min, i.e. a few
 * rounds). Our own reputation (`penalize`) enters as the app-specific score (P5).
 */

import type { GossipSub, GossipsubOpts } from '@libp2p/gossipsub';
import { gossipsub } from '@libp2p/gossipsub';
import { identify } from '@libp2p/identify';
import { ping } from '@libp2p/ping';
import { GOSSIP_MAX_INBOUND_DATA } from './constants.ts';
import { Reputation } from './reputation.ts';

export type PeerScoreParams = NonNullable<GossipsubOpts['scoreParams']>;
export type TopicScoreParams = NonNullable<PeerScoreParams['topics']>[string];

/** Topic score parameters for an FL update topic (decays are per `decayInterval`, 1 s). */
export const FL_TOPIC_SCORE_PARAMS: TopicScoreParams = {
  topicWeight: 1,
  // P1: up to +3.6 after an hour in the mesh
  timeInMeshWeight: 0.001,
  timeInMeshQuantum: 1000,
  timeInMeshCap: 3600,
  // P2: +1 per first delivery, at most +10, half-life ~11.5 min
  firstMessageDeliveriesWeight: 1,
  firstMessageDeliveriesDecay: 0.999,
  firstMessageDeliveriesCap: 10,
  // P3/P3b off: a low-rate topic cannot meet a delivery-rate threshold
  meshMessageDeliveriesWeight: 0,
  meshMessageDeliveriesDecay: 0.5,
  meshMessageDeliveriesCap: 100,
  meshMessageDeliveriesThreshold: 1,
  meshMessageDeliveriesWindow: 10,
  meshMessageDeliveriesActivation: 5000,
  meshFailurePenaltyWeight: 0,
  meshFailurePenaltyDecay: 0.5,
  // P4: -10 x count^2: one invalid message -10, two -40, three -90 (graylisted at -80)
  invalidMessageDeliveriesWeight: -10,
  invalidMessageDeliveriesDecay: 0.995,
};

export interface GossipTuning {
  /** Topics scored from the start (more are added when subscribed). Default none. */
  topics?: string[];
  /** Score parameters for every scored topic (default `FL_TOPIC_SCORE_PARAMS`). */
  topicScoreParams?: Partial<TopicScoreParams>;
  /**
   * Turn off the IP-colocation penalty (P6), which punishes more than 10 peers on one IP:
   * set it when many nodes share 127.0.0.1 (tests, simulations). Default false.
   */
  relaxColocation?: boolean;
  /** Weight of the app-specific score (P5) (default 10: one penalty = -10). */
  appSpecificWeight?: number;
  /** Largest inbound gossip message data (default `GOSSIP_MAX_INBOUND_DATA`, 4 MiB). */
  maxInboundDataLength?: number;
  /** Any other gossipsub option, applied last. */
  overrides?: Partial<GossipsubOpts>;
}

/** Services every meshfl node runs: the Gossip layer needs `pubsub` and `reputation`. */
export type GossipServices = {
  pubsub: GossipSub;
  reputation: Reputation;
};

export function topicScoreParams(tuning: GossipTuning = {}): TopicScoreParams {
  return { ...FL_TOPIC_SCORE_PARAMS, ...tuning.topicScoreParams };
}

/** Options for `gossipsub()`, wired to `reputation` for the app-specific score. */
export function gossipsubOptions(reputation: Reputation, tuning: GossipTuning = {}): Partial<GossipsubOpts> {
  const topics: Record<string, TopicScoreParams> = {};
  for (const t of tuning.topics ?? []) topics[t] = topicScoreParams(tuning);
  return {
    globalSignaturePolicy: 'StrictSign',
    allowPublishToZeroTopicPeers: true,
    emitSelf: false,
    maxInboundDataLength: tuning.maxInboundDataLength ?? GOSSIP_MAX_INBOUND_DATA,
    scoreParams: {
      topics,
      appSpecificScore: (peer: string) => reputation.score(peer),
      appSpecificWeight: tuning.appSpecificWeight ?? 10,
      ...(tuning.relaxColocation === true ? { IPColocationFactorWeight: 0 } : {}),
    },
    ...tuning.overrides,
  };
}

/** The service map shared by every environment: identify, ping, gossipsub, reputation. */
export function baseServices(tuning: GossipTuning = {}) {
  const reputation = new Reputation();
  return {
    identify: identify(),
    ping: ping(),
    pubsub: gossipsub(gossipsubOptions(reputation, tuning)),
    reputation: () => reputation,
  };
}

/** Methods the gossipsub class has but its exported interface omits. */
export interface GossipSubInternals {
  getMeshPeers(topic: string): string[];
  getScore(peer: string): number;
  score: { params: PeerScoreParams & { topics: Record<string, TopicScoreParams> } };
}

export function internals(pubsub: GossipSub): GossipSub & GossipSubInternals {
  return pubsub as GossipSub & GossipSubInternals;
}
