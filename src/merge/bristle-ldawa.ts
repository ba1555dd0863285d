/**
 * `bristle+ldawa`, meshfl's default merge: Bristle's idea (trust neighbours by how they
 * behave on validation data, never by what they claim) and L-DAWA's (a neighbour counts
 * less the further its direction departs from ours), rebuilt as stages that each answer
 * one question (docs/ALGORITHMS.md, "The default merge"):
 *
 *  1. cost cap     too many candidates to evaluate? Bristle's distance quotas pick `N`.
 *  2. colluders    identical or near-identical models (within rho * m of each other, m the
 *                  median distance to own) form a group; each member weighs 1/|group|.
 *                  Near-copies (within copyRho x the pair's distance to own) are
 *                  rejected instead, unless they are a majority.
 *  3. certainty    c_j = max(0, mean - std) of the candidate's top-phi per-class F1 on V,
 *                  against gate x the median over own and the groups with a good trust
 *                  record (Bristle's statistic, used as a gate); c_j = 0, or a sender
 *                  with a good record below the gate, makes a suspect that must prove
 *                  itself in 6.
 *  3b. progress    with D neighbours (off with all-to-all): against own's model at the
 *                  start of the round (of the sender's lag), a candidate that lowers the
 *                  loss on V of fewer classes than half the median count (over own and
 *                  the candidates) is rejected (./class-progress.ts; docs/ALGORITHMS.md
 *                  "Class progress with D neighbours").
 *  4. distance     rejected beyond far x the median group distance; the rest clipped:
 *                  y_j = own + min(1, kappa * m / d_j) (x_j - own) (He, Karimireddy, Jaggi
 *                  2022, ClippedGossip).
 *  4b. direction  off by default: a sender without a good record whose update points
 *                  against the candidates' mean update is a suspect or rejected ('against').
 *  5. L-DAWA       per layer, max(0, cos(y_j - ref, D)) on this round's updates (ref = own
 *                  before local training); off by default (docs/ALGORITHMS.md says why).
 *  6. acceptance   leave-group-out on V with trust memory (./influence.ts), `passes` times;
 *                  a low-certainty sender with a record is scored by the worse of this
 *                  round's score and its blended one (`worse`); a group without a good
 *                  record is also tested on generalized cross-entropy (`gce`; all-to-all).
 *  7. combine      one weight per candidate (group share x capped sample weight x L-DAWA
 *                  factor), normalised with own's: with every stage off, the plain average.
 *
 * Every stage has an option that turns it off, for ablations. State: the trust memory of
 * one strategy instance (one per merging peer).
 */
import { cloneWeights, type Weights } from '../model/weights.ts';
import { BRISTLE_DISTANCE_SPEC, bristleDistance } from './bristle-distance.ts';
import { certainty, graft } from './bristle-performance.ts';
import { classEffects, classOutliers, worstClass } from './class-harm.ts';
import { classMeanLoss, improvedClasses, StartLosses, withoutProgress } from './class-progress.ts';
import { colluderGroups, nearCopyGroups } from './colluders.ts';
import { flipScores, SignatureMemory } from './flip-signature.ts';
import { admitCandidates, mergedLayerIndices } from './guard.ts';
import { harmfulOutliers, median, RecentScores, TrustMemory } from './influence.ts';
import { lowInfluenceGroups } from './low-influence.ts';
import { applyMix, averageCoefficients, LeaveOutMixer, mixShares } from './mix.ts';
import { OptionError, type OptionsSpec, type Parsed, parseOptions } from './options.ts';
import { persistentHarm } from './poor-record.ts';
import type { RejectedCandidate, RejectReason } from './report.ts';
import type { Candidate, ClassScores, Strategy } from './types.ts';
import { referenceLayers, type UpdateDirection, updateCosines, updateFactors } from './update-direction.ts';
import { generalizedCrossEntropy, partLoss, type ValidationParts, validationParts } from './validation-parts.ts';
import { distancesSquared } from './vectors.ts';

export const BRISTLE_LDAWA_SPEC = {
  N: {
    kind: 'optional-number',
    min: 1,
    integer: true,
    doc: 'cost cap: with more candidates, Bristle distance quotas keep about N (default: every candidate)',
  },
  a: BRISTLE_DISTANCE_SPEC.a,
  rho: {
    kind: 'number',
    default: 0.1,
    min: 0,
    doc: 'colluder radius as a share of the median distance to own (0 = no grouping)',
  },
  copies: {
    kind: 'choice',
    default: 'reject',
    values: ['reject', 'one', 'auto'],
    doc: "a colluder group of two or more near-copies: 'reject' = every member is rejected ('copies', a harm verdict for shunning) unless they are more than half of the candidates: honest peers train on their own data and do not send copies of each other; 'one' = it counts as one voter (each member 1/|group|); 'auto' = 'reject' when the peer merges D neighbours (ctx.neighbours a number), else 'one'",
  },
  copyRho: {
    kind: 'number',
    default: 0.03,
    min: 0,
    doc: "with copies 'reject': candidates j, k are near-copies when ||x_j - x_k|| <= copyRho x min(d_j, d_k), d = distance to own; a group of near-copies is rejected unless it holds more than half of the candidates; groups within rho but not near-copies count as one voter",
  },
  phi: { kind: 'number', default: 2, min: 1, integer: true, doc: 'classes behind a certainty' },
  gate: {
    kind: 'number',
    default: 0.3,
    min: 0,
    doc: 'reject a candidate whose certainty is below gate x the reference certainty (gateReference; 0 = off)',
  },
  gateRecord: {
    kind: 'choice',
    default: 'prove',
    values: ['prove', 'reject'],
    doc: "a candidate below the certainty gate whose sender has a good record: 'prove' = a suspect (kept if leave-group-out shows it helps); 'reject' = rejected like any other",
  },
  proveBelow: {
    kind: 'number',
    default: 0,
    min: 0,
    doc: 'a candidate above the gate but below proveBelow x the reference certainty, without a good record, is a suspect that must prove itself by leave-group-out (0 = off)',
  },
  gateBand: {
    kind: 'choice',
    default: 'reject',
    values: ['reject', 'prove'],
    doc: "with gateReference 'trusted', a candidate below the gate but not below gate x the median over every candidate: 'reject'; 'prove' = kept if it has a good record, else a suspect",
  },
  gateReference: {
    kind: 'choice',
    default: 'trusted',
    values: ['median', 'trusted', 'not-distrusted', 'own'],
    doc: "the certainty the gate compares with: the median of own and the candidates; 'trusted' = of own and the senders with a good record (the median of all while none has one); 'not-distrusted' = of own and the senders without a poor record; or own",
  },
  against: {
    kind: 'choice',
    default: 'off',
    values: ['off', 'prove', 'reject'],
    doc: "a candidate (againstWho: without a good record, or any) whose update points against the others' (its update's cosine with againstRef's direction, per againstScope, below againstCos; needs ctx.reference): 'prove' = a suspect, kept only if leave-group-out shows it helps; 'reject' = rejected ('opposed', a harm verdict); 'off' = no such test",
  },
  againstCos: {
    kind: 'number',
    default: -0.2,
    min: -1,
    max: 1,
    doc: 'the cosine below which `against` applies',
  },
  againstWho: {
    kind: 'choice',
    default: 'unproven',
    values: ['unproven', 'any'],
    doc: "which senders `against` tests: 'unproven' = those without a good record; 'any' = every sender",
  },
  againstRef: {
    kind: 'choice',
    default: 'consensus',
    values: ['consensus', 'own'],
    doc: "`against`'s direction: the mean of own's and the candidates' (clipped) updates, or own's update",
  },
  againstScope: {
    kind: 'choice',
    default: 'layers',
    values: ['layers', 'model'],
    doc: "`against`'s cosine: the mean of the per-layer cosines, or the whole-model cosine",
  },
  progress: {
    kind: 'choice',
    default: 'auto',
    values: ['off', 'auto', 'reject'],
    doc: "class progress (./class-progress.ts): 'reject' = a candidate that lowers the validation loss of fewer classes than half the median count (over own and the candidates) against own's model at the start of the round, by more than progressGain, is rejected ('no-progress', a harm verdict for shunning once per model: a daemon restarted from its checkpoint sends one model that is behind, judged in every gossip step); needs ctx.reference and per-sample losses; 'off' = no such test; 'auto' = 'reject' when the peer merges D neighbours (ctx.neighbours a number), else 'off'",
  },
  progressGain: {
    kind: 'number',
    default: 0.05,
    min: 0,
    doc: "the relative drop of a class's mean loss that counts as progress on it",
  },
  flip: {
    kind: 'choice',
    default: 'auto',
    values: ['off', 'auto', 'prove', 'reject'],
    doc: "flip signature (./flip-signature.ts): a candidate (flipWho: every one, one with a good record by its recent signatures; or without a good record; or any) whose largest push on V's logits against own's start model moves some class's inputs to another output, by more than flipAbove (the signature, in units of the push matrix's rms): 'reject' = rejected ('flipped'; not a harm verdict for shunning: an honest specialist can cross the bar before it has a record); 'prove' = a suspect, kept only if leave-group-out shows it helps; 'off' = no such test; 'auto' = 'reject' when every peer's update reaches the merge (ctx.neighbours 'all' or unset), else 'off' (not measured with D neighbours). Needs ctx.reference and per-sample logits",
  },
  flipAbove: {
    kind: 'number',
    default: 2,
    doc: 'the flip signature above which `flip` acts',
  },
  flipOwn: {
    kind: 'number',
    default: 0,
    min: 0,
    doc: "a candidate whose push, on the output its largest off-diagonal entry moves inputs to, is at least flipOwn on that output's own class (in units of the push matrix's rms) is not flagged: an honest specialist whose push is largest on other classes' inputs (0 = off)",
  },
  flipWho: {
    kind: 'choice',
    default: 'recent',
    values: ['any', 'unproven', 'recent'],
    doc: "which candidates `flip` judges: 'any'; 'unproven' = senders without a good record; 'recent' = every sender, one with a good record by the median of its last flipMemory signatures",
  },
  flipMemory: {
    kind: 'number',
    default: 3,
    min: 1,
    integer: true,
    doc: "with flipWho 'recent', how many of a sender's latest signatures its median covers",
  },
  far: {
    kind: 'number',
    default: 4,
    min: 0,
    doc: 'reject candidates farther than far x the median group distance to own (0 = off)',
  },
  distanceOver: {
    kind: 'choice',
    default: 'gated',
    values: ['gated', 'all'],
    doc: "the median group distance behind `far` and `kappa`: over the groups the certainty gate kept ('gated'), or over every group ('all'; rejected blown-up copies then widen the radius for the one that passed)",
  },
  sampleCap: {
    kind: 'number',
    default: 4,
    min: 0,
    doc: 'weigh by reported sample counts relative to the median count, at most sampleCap x (0 = ignore counts)',
  },
  sampleTrust: {
    kind: 'choice',
    default: 'claim',
    values: ['claim', 'record'],
    doc: "'record' = a sender's sample weight is at most 1 until it has a good record (sampleCap applies after); 'claim' = sampleCap from the first round",
  },
  suspects: {
    kind: 'choice',
    default: 'prove',
    values: ['prove', 'reject'],
    doc: "below the certainty gate with certainty 0: 'prove' = kept only if leave-group-out shows they help; 'reject' = rejected at once",
  },
  kappa: {
    kind: 'number',
    default: 2,
    min: 0,
    doc: 'clip candidates to kappa x the median distance to own (0 = off)',
  },
  ldawa: {
    kind: 'choice',
    default: 'off',
    values: ['off', 'median', 'consensus', 'own'],
    doc: "per-layer cosine of each update with the consensus update or own's (needs ctx.reference), or off",
  },
  scope: {
    kind: 'choice',
    default: 'layer',
    values: ['layer', 'model'],
    doc: 'L-DAWA factor per layer, or one from the whole-model cosine',
  },
  warmupRounds: {
    kind: 'number',
    default: 0,
    min: 0,
    integer: true,
    doc: 'rounds (ctx.round < warmupRounds) without the L-DAWA factors',
  },
  passes: {
    kind: 'number',
    default: 3,
    min: 0,
    max: 20,
    integer: true,
    doc: 'leave-group-out acceptance passes (0 = off)',
  },
  score: {
    kind: 'choice',
    default: 'leave-out',
    values: ['leave-out', 'add', 'min'],
    doc: "a group's acceptance score: 'leave-out' = leaving it out of the mix of every live group; 'add' = adding it to the mix of own and the groups with a good record (leaving it out of that mix when it is one of them); 'min' = for a group without a good record, the smaller of the two, else leave-out",
  },
  mu: { kind: 'number', default: 0.02, min: 0, doc: 'reject only groups whose relative loss effect is below -mu' },
  proveFloor: {
    kind: 'number',
    default: 0.02,
    min: 0,
    doc: 'the least relative loss effect a suspect must show to be kept, whatever the typical trusted group shows (the bar is the larger of the two)',
  },
  k: { kind: 'number', default: 2, min: 0, doc: 'and below median - k x MAD of all groups' },
  hard: {
    kind: 'number',
    default: 0.1,
    min: 0,
    doc: 'reject groups whose score is below -hard whatever the spread of the others (0 = off)',
  },
  prior: {
    kind: 'number',
    default: 1,
    min: 0,
    doc: "virtual neutral rounds in each sender's trust average (shrinks the score of senders with little history)",
  },
  distrust: {
    kind: 'number',
    default: 0,
    min: 0,
    doc: "reject a group whose members' average score over this and at least `history` earlier rounds is below -distrust (0 = off)",
  },
  distrustScale: {
    kind: 'number',
    default: 1,
    min: 0,
    doc: "distrust's bar is at least distrustScale x this pass's median |score| (0 = the fixed bar alone)",
  },
  history: {
    kind: 'number',
    default: 2,
    min: 0,
    integer: true,
    doc: 'earlier scored rounds a sender needs before its average can reject it (distrust)',
  },
  rawTest: {
    kind: 'choice',
    default: 'off',
    values: ['on', 'off'],
    doc: "also apply the harmful-outlier test to this round's unblended scores (rejecting groups whose blended score is below 0 too)",
  },
  worse: {
    kind: 'choice',
    default: 'any',
    values: ['off', 'poor', 'unproven', 'any'],
    doc: "score a group by the worse of this round's r and its blended score once its senders have at least `history` (and one) recorded rounds: 'poor' = senders with a poor record (median below 0); 'unproven' = senders without a good record; 'any' = every sender; 'off' = the blended score alone",
  },
  worseBelow: {
    kind: 'number',
    default: 0.5,
    min: 0,
    doc: "with `worse` on, only for candidates whose certainty is below worseBelow x the gate's reference certainty (0 = every candidate; with gate 0, none)",
  },
  lossPart: {
    kind: 'choice',
    default: 'all',
    values: ['all', 'private', 'worse'],
    doc: "where leave-group-out measures the loss (r and the trust memory): all of V; 'private' = V's private part (the peer's own samples, which no attacker knows); 'worse' = the smaller of the scores on the private and the public part",
  },
  worseWhen: {
    kind: 'choice',
    default: 'certainty',
    values: ['certainty', 'private', 'either'],
    doc: "which groups `worse` applies to: 'certainty' = certainty below worseBelow x the reference; 'private' = leaving the group out lowered the loss on V's private part this round; 'either' = one of the two",
  },
  spread: {
    kind: 'choice',
    default: 'auto',
    values: ['auto', 'all', 'trusted', 'unproven', 'poor'],
    doc: "the harmful-outlier test's median and MAD: over every live group ('all'); 'trusted' = over the groups whose senders all have a good record (when at least 3; else every group); 'unproven' = over every group, and a group without a good record is also tested against the band of the groups with one; 'poor' = the same for a group whose senders all have a poor record; 'auto' = 'unproven' when the peer merges D neighbours (ctx.neighbours a number: a handful of candidates, half of them attackers at worst), else 'all'",
  },
  spreadPool: {
    kind: 'number',
    default: 4,
    min: 0,
    max: 64,
    integer: true,
    doc: "with spread other than 'all': the band of the groups with a good record also takes their scores from the last spreadPool merges of this peer (first pass), so it exists with fewer than 3 such groups in this merge (0 = this merge only)",
  },
  partTest: {
    kind: 'choice',
    default: 'off',
    values: ['off', 'private', 'class'],
    doc: "also reject a group whose leave-group-out score this round on V's private part ('private'), or on its worst class there ('class'), is a harmful outlier (below -partMu and below median - k MAD), whatever its blended score; 'off' = no such test",
  },
  gce: {
    kind: 'choice',
    default: 'auto',
    values: ['auto', 'on', 'off'],
    doc: "the harm test on generalized cross-entropy: 'on' = also reject a group (gceWho) whose leave-group-out score under (1 - p^q) / q, q = gceQ, p the probability of the true label (Zhang & Sabuncu 2018), is a harmful outlier (below -gceMu and below median - k MAD): a few confidently wrong samples, which dominate CE, do not decide it; 'auto' = 'on' when the peer merges every candidate, 'off' with D neighbours (ctx.neighbours a number); 'off' = no such test",
  },
  gceQ: {
    kind: 'number',
    default: 0.3,
    min: 0.001,
    max: 1,
    doc: "q of gce's loss: near 0 it is CE, at 1 one minus the mean probability of the true label",
  },
  gceWho: {
    kind: 'choice',
    default: 'unproven',
    values: ['unproven', 'below-median', 'any'],
    doc: "which groups gce may reject: 'unproven' = groups whose senders do not all have a good record; 'below-median' = groups whose CE score this round is below the median; 'any'",
  },
  gceMu: {
    kind: 'number',
    default: 0.03,
    min: 0,
    doc: "gce's absolute bar",
  },
  partMu: {
    kind: 'number',
    default: 0.02,
    min: 0,
    doc: "partTest's absolute bar",
  },
  poorScale: {
    kind: 'number',
    default: 0,
    min: 0,
    doc: "reject a group whose senders all have a poor record (median recent score below 0, at least `history` earlier rounds) when this round's r is below -poorScale x the median |r| and below median(r) - k x MAD (0 = off)",
  },
  poorBelow: {
    kind: 'number',
    default: 0,
    min: 0,
    doc: 'with poorScale on, only for candidates whose certainty is below poorBelow x the gate reference (0 = every candidate)',
  },
  probation: {
    kind: 'number',
    default: 1,
    min: 0,
    max: 1,
    doc: 'weight factor of a candidate whose sender has no good record, in a merge where at least one candidate has one (1 = off)',
  },
  lowWeight: {
    kind: 'number',
    default: 1,
    min: 0,
    max: 1,
    doc: "weight factor of an accepted group whose leave-group-out score (first pass) is below the accepted groups' median (1 = off)",
  },
  lowWho: {
    kind: 'choice',
    default: 'any',
    values: ['any', 'unproven', 'new'],
    doc: "which groups lowWeight applies to: 'any'; 'unproven' = groups whose senders do not all have a good record; 'new' = groups with a sender of fewer than `history` (and 1) recorded rounds",
  },
  lowBelow: {
    kind: 'number',
    default: 0,
    min: 0,
    doc: "with lowWeight on, only for groups whose senders' certainty is below lowBelow x the gate's reference (0 = every group)",
  },
  classK: {
    kind: 'number',
    default: 2,
    min: 0,
    doc: "classTest's outlier multiple of the MAD",
  },
  classTest: {
    kind: 'choice',
    default: 'off',
    values: ['off', 'share', 'relative'],
    doc: "per-class leave-group-out (./class-harm.ts): also reject a group whose worst class on V is a harmful outlier among the groups' worst classes (below -classMu and below median - k x max(MAD, classFloor)); 'share' = the class's part of r (the classes sum to r), 'relative' = relative to the class's own loss; 'off' = no such test",
  },
  classMu: {
    kind: 'number',
    default: 0.01,
    min: 0,
    doc: "classTest's absolute bar",
  },
  classFloor: {
    kind: 'number',
    default: 0.002,
    min: 0,
    doc: "classTest's smallest MAD",
  },
  classWho: {
    kind: 'choice',
    default: 'any',
    values: ['any', 'unproven'],
    doc: "which groups classTest may reject: 'any'; 'unproven' = groups whose senders do not all have a good record",
  },
  memory: {
    kind: 'choice',
    default: 'on',
    values: ['on', 'off'],
    doc: "blend a sender's leave-group-out score with its average over past rounds",
  },
} as const satisfies OptionsSpec;

export type BristleLdawaOptions = Parsed<typeof BRISTLE_LDAWA_SPEC>;

/** Options of the paper's per-class integrator, which the default merge no longer has. */
const RETIRED_OPTIONS: Readonly<Record<string, string>> = {
  foreignScore: "the per-class integrator it configures is strategy 'bristle' (the paper's Bristle)",
  foreignPhi: "the per-class integrator it configures is strategy 'bristle' (the paper's Bristle)",
};

function checkRetired(raw: unknown): void {
  if (raw === null || typeof raw !== 'object') return;
  for (const key of Object.keys(raw)) {
    const why = RETIRED_OPTIONS[key];
    if (why !== undefined) throw new OptionError(`bristle+ldawa: option "${key}" was retired: ${why}`);
  }
}

/** Validation cross-entropy from a model's scores; non-finite losses count as +Infinity (worst). */
function lossOf(scores: ClassScores): number {
  const loss = scores.loss;
  return Number.isFinite(loss) ? loss : Number.POSITIVE_INFINITY;
}

/**
 * What an L-DAWA factor is measured against: the median factor of the candidates (the
 * typical honest direction), or the largest when most are 0; 1 when all are 0. Factors
 * are relative, so own's share stays what plain averaging gives it: under non-i.i.d. data
 * honest updates are far from parallel (cosines ~0.1 per layer here), and absolute factors
 * would leave own with most of the weight and stop the mixing.
 */
function relativeScale(factors: readonly number[]): number {
  const m = median(factors);
  if (m > 0) return m;
  const max = Math.max(0, ...factors);
  return max > 0 ? max : 1;
}

/** Own's model as it started the round: the layers `reference` holds with own's shapes, own's elsewhere. */
function startModel(own: Weights, reference: Weights): Weights {
  const byName = new Map(reference.map((l) => [l.name, l]));
  return own.map((l) => {
    const r = byName.get(l.name);
    return r !== undefined && r.values.length === l.values.length ? r : l;
  });
}

export function bristleLdawaStrategy(options: Partial<BristleLdawaOptions> = {}): Strategy {
  checkRetired(options);
  const o = parseOptions('bristle+ldawa', BRISTLE_LDAWA_SPEC, options);
  const cap = o.N === undefined ? undefined : bristleDistance({ N: o.N, a: o.a });
  const trust = new TrustMemory();
  const pooled = new RecentScores(o.spreadPool);
  /** Class losses on V of own's start model, by round: the references of lagging senders (3b). */
  const startLosses = new StartLosses();
  const signatureMemory = new SignatureMemory(o.flipMemory);
  return (own, offered, ctx) => {
    const layers = mergedLayerIndices(own, ctx);
    // A handful of D neighbours (ctx.neighbours a number), or every peer.
    const fewNeighbours = typeof ctx.neighbours === 'number';
    const spread = o.spread === 'auto' ? (fewNeighbours ? 'unproven' : 'all') : o.spread;
    const copies = o.copies === 'auto' ? (fewNeighbours ? 'reject' : 'one') : o.copies;
    const progress = o.progress === 'auto' ? (fewNeighbours ? 'reject' : 'off') : o.progress;
    const gceOn = o.gce === 'auto' ? !fewNeighbours : o.gce === 'on';
    const flip = o.flip === 'auto' ? (fewNeighbours ? 'off' : 'reject') : o.flip;
    const { admitted, rejected: guardRejected } = admitCandidates(own, offered, layers, undefined, ctx.scans);
    const rejected: RejectedCandidate[] = [...guardRejected];
    const report = (ownShare: number, used: { peer: string; seq: number; share: number }[]): void =>
      ctx.report?.({ strategy: 'bristle+ldawa', ownShare, used, rejected });
    if (admitted.length === 0) {
      report(1, []);
      return cloneWeights(own);
    }
    // 1. Cost cap.
    let candidates: readonly Candidate[] = admitted;
    if (cap !== undefined && admitted.length > (o.N as number)) {
      const kept = new Set(cap(own, admitted, ctx, layers));
      for (const c of admitted)
        if (!kept.has(c)) rejected.push({ peer: c.peer, seq: c.seq, reason: 'not-prioritized' });
      candidates = admitted.filter((c) => kept.has(c));
    }
    const n = candidates.length;
    const models = candidates.map((c) => c.weights);
    const distance = distancesSquared(own, models, layers).map(Math.sqrt);
    const m = median(distance);

    // 2. Colluder groups.
    const groups = colluderGroups(models, distance, layers, o.rho > 0 ? o.rho * m : 0);
    const groupShare = Array.from(groups.group, (g) => 1 / groups.members[g].length);
    const active = new Array<boolean>(n).fill(true);
    /** Takes candidate j out of the merge and reports why. */
    const drop = (j: number, reason: RejectReason): void => {
      active[j] = false;
      const cand = candidates[j];
      rejected.push({ peer: cand.peer, seq: cand.seq, reason });
    };
    // Near-copies: rejected, unless they are more than half of the candidates (a peer
    // whose own model was ruined sees every honest model as a copy of the others; it must
    // still merge them to recover).
    if (copies === 'reject')
      nearCopyGroups(models, distance, layers, o.copyRho).members.forEach((ms) => {
        if (ms.length < 2 || 2 * ms.length > n) return;
        for (const j of ms) drop(j, 'copies');
      });

    // Senders with a good record in the trust memory (stage 6), and the groups all of whose
    // members have one.
    const hasRecord = candidates.map((c) => o.memory === 'on' && trust.trusted(c.peer, o.history));
    const poorRecord = candidates.map((c) => o.memory === 'on' && trust.distrusted(c.peer, o.history));
    const trustedGroup =
      o.gateReference === 'not-distrusted'
        ? groups.members.map((ms) => !ms.every((j) => poorRecord[j]))
        : groups.members.map((ms) => ms.every((j) => hasRecord[j]));
    // The values of the trusted groups, or all of them while no group is trusted: with half
    // the candidates attackers, a median over all of them is the attackers' own.
    const anchored = (perGroup: readonly number[]): readonly number[] => {
      const kept = perGroup.filter((_, g) => trustedGroup[g]);
      return kept.length > 0 ? kept : perGroup;
    };

    // Each candidate's scores on V alone (grafted into own), evaluated once for stages 3 and 3b.
    const scoresOf = new Map<number, ClassScores>();
    const candidateScores = (j: number): ClassScores => {
      let sc = scoresOf.get(j);
      if (sc === undefined) {
        sc = ctx.evaluate(graft(own, models[j], layers));
        scoresOf.set(j, sc);
      }
      return sc;
    };
    let ownScored: ClassScores | undefined;
    const ownScores = (): ClassScores => {
      ownScored ??= ctx.evaluate(own);
      return ownScored;
    };

    // Own's model at the start of the round (the layers it exchanges from ctx.reference):
    // the origin of stages 3b and 3c.
    const labels = ctx.validationSplit?.labels;
    const start = ctx.reference === undefined ? undefined : startModel(own, ctx.reference);

    // 3. Certainty gate (groups are known: stage 2 runs first).
    const suspect = new Array<boolean>(n).fill(false);
    /**
     * Candidates below worseBelow x the gate's reference certainty; with worseBelow 0 every
     * candidate, without the gate (no certainties) none.
     */
    const lowCertainty = new Array<boolean>(n).fill(o.worseBelow === 0);
    const parts = validationParts(ctx.validationSplit);
    /** Candidates below poorBelow x the gate's reference certainty (poorScale); with poorBelow 0 every candidate. */
    const poorCertainty = new Array<boolean>(n).fill(true);
    const certRatio = new Array<number>(n).fill(Number.NaN);
    if (o.gate > 0) {
      const cOwn = certainty(ownScores().f1, ctx.familiarClasses, o.phi);
      const cs = models.map((_, j) => certainty(candidateScores(j).f1, ctx.familiarClasses, o.phi));
      // Against the median of own and the candidates: own is a specialist after local
      // training, and measured against it honest models of other classes fell below the gate.
      // One value per colluder group, so copies cannot move the median.
      const perGroup = groups.members.map((ms) => ms.reduce((sum, j) => sum + cs[j], 0) / ms.length);
      const overAll = median([cOwn, ...perGroup]);
      const reference =
        o.gateReference === 'own'
          ? cOwn
          : o.gateReference === 'median'
            ? overAll
            : median([cOwn, ...anchored(perGroup)]);
      cs.forEach((c, j) => {
        certRatio[j] = reference > 0 ? c / reference : Number.NaN;
      });
      if (o.poorBelow > 0)
        cs.forEach((c, j) => {
          poorCertainty[j] = c < o.poorBelow * reference;
        });
      if (o.worseBelow > 0)
        cs.forEach((c, j) => {
          lowCertainty[j] = c < o.worseBelow * reference;
        });
      cs.forEach((c, j) => {
        if (!active[j]) return;
        if (o.gateBand === 'prove' && c > 0 && c < o.gate * reference && c >= o.gate * overAll) {
          // Below the trusted reference's gate but not below the gate over every candidate:
          // kept with a good record, else a suspect. A candidate rejected here would never be
          // scored, so an honest specialist could never earn the record that lets it in.
          if (!hasRecord[j]) {
            if (o.passes > 0 && o.suspects === 'prove') suspect[j] = true;
            else drop(j, 'uncertain');
          }
        } else if (!(c >= o.gate * reference)) {
          // Certainty 0 over the top two classes is also what an honest one-class specialist
          // (Dirichlet data) scores: with leave-group-out on, such a candidate is a suspect
          // that must show it helps as much as the typical trusted group. Any other
          // candidate below the gate (label flippers score low but not 0) is rejected.
          // A sender with a good record that falls below the gate (an honest specialist whose
          // certainty hovers at the gate) is a suspect too, not rejected unheard.
          if (o.passes > 0 && o.suspects === 'prove' && (c <= 0 || (o.gateRecord === 'prove' && hasRecord[j])))
            suspect[j] = true;
          else drop(j, 'uncertain');
        } else if (c < o.proveBelow * reference && o.passes > 0 && o.suspects === 'prove' && !hasRecord[j]) {
          // Above the gate but below proveBelow x the reference, without a good record: a
          // suspect (a label flipper whose model still does well on the classes it did not
          // flip scores here, and so does an honest specialist in its first rounds).
          suspect[j] = true;
        }
      });
    }

    // 3b. Class progress (./class-progress.ts): against own's model at the start of the
    // round, an honest model lowers the loss of the classes its sender trained on; a
    // candidate that improves fewer than half the median count is rejected whatever its
    // record (IPM copies earn good records late in a run): docs/ALGORITHMS.md "Class
    // progress with D neighbours".
    if (progress === 'reject' && ctx.reference !== undefined && start !== undefined && labels !== undefined) {
      const lossOfClasses = (sc: ClassScores): Float64Array | undefined =>
        sc.sampleLoss === undefined ? undefined : classMeanLoss(sc.sampleLoss, labels, ctx.numClasses);
      const reference = startLosses.at(ctx.round, ctx.reference) ?? lossOfClasses(ctx.evaluate(start));
      if (reference !== undefined) startLosses.set(ctx.round, ctx.reference, reference);
      const ownLoss = lossOfClasses(ownScores());
      const live = models.flatMap((_, j) => (active[j] ? [j] : []));
      const losses = live.map((j) => lossOfClasses(candidateScores(j)));
      if (reference !== undefined && ownLoss !== undefined && losses.every((l) => l !== undefined)) {
        // A sender that lags (its pace, measured by the Peer) trained from an older start:
        // it is judged against own's start model of that round, not against a newer one
        // that it could not have seen.
        const counts = losses.map((l, i) =>
          improvedClasses(
            l as Float64Array,
            startLosses.lagging(ctx.round, candidates[live[i] as number]?.lag ?? 0) ?? reference,
            o.progressGain,
          ),
        );
        for (const i of withoutProgress(counts, improvedClasses(ownLoss, reference, o.progressGain)))
          drop(live[i] as number, 'no-progress');
      }
    }

    // 3c. Flip signature (./flip-signature.ts): the largest push of a label flipper's model
    // moves one class's inputs to another output; an honest model's moves a class's inputs
    // to their own label (docs/ALGORITHMS.md "Flip signature").
    const startLogits =
      flip !== 'off' && start !== undefined && labels !== undefined ? ctx.evaluate(start).sampleLogits : undefined;
    for (let j = 0; j < n && startLogits !== undefined && labels !== undefined; j++) {
      if (!active[j] || (o.flipWho === 'unproven' && hasRecord[j])) continue;
      const logits = candidateScores(j).sampleLogits;
      if (logits === undefined) continue;
      const { signature, target } = flipScores(logits, startLogits, labels, ctx.numClasses);
      // 'recent': a sender with a good record is judged by its recent signatures, not this one's.
      const recent = o.flipWho === 'recent' ? signatureMemory.add(candidates[j].peer, signature) : signature;
      const judged = o.flipWho === 'recent' && hasRecord[j] ? recent : signature;
      if (!(judged > o.flipAbove)) continue;
      // An honest specialist of the output also pushes that output's own inputs towards it.
      if (o.flipOwn > 0 && target >= o.flipOwn) continue;
      if (flip === 'prove' && o.passes > 0) suspect[j] = true;
      else drop(j, 'flipped');
    }

    // 4. Distance gate and clip factors around own, against the median distance over
    // groups (copies cannot move it) that are still in play: scaled copies that failed the
    // gate would otherwise set the radius for one that passed (scaling 1e3 at D = 8: four
    // of eight candidates scaled, three gated, the fourth merged with share 0.34).
    const groupDistance = groups.members.flatMap((ms) =>
      o.distanceOver === 'all' || ms.some((j) => active[j])
        ? [ms.reduce((sum, j) => sum + distance[j], 0) / ms.length]
        : [],
    );
    const mGroups = median(groupDistance.length > 0 ? groupDistance : [m]);
    if (o.far > 0) {
      distance.forEach((d, j) => {
        if (active[j] && d > o.far * mGroups) drop(j, 'too-far');
      });
    }
    const radius = o.kappa * mGroups;
    const clip = distance.map((d) => (o.kappa > 0 && d > radius ? (d > 0 ? radius / d : 1) : 1));

    // 4b. Direction: a sign-flipped or inner-product-manipulated update points against the
    // others' in round 0 (docs/ALGORITHMS.md "Sign flip and IPM with D neighbours", `against`).
    // By default a sender with a good record is spared: honest specialists of other classes
    // drift below 0 in later rounds.
    if (o.against !== 'off' && ctx.reference !== undefined) {
      const refLayers = referenceLayers(own, ctx.reference, layers) ?? [];
      const cos = updateCosines(own, models, layers, refLayers, clip, active, o.againstRef);
      const statistic = (j: number): number => {
        if (o.againstScope === 'model') return cos.model[j];
        const finite = Array.from(cos.perLayer[j]).filter(Number.isFinite);
        return finite.length > 0 ? finite.reduce((a, b) => a + b, 0) / finite.length : Number.NaN;
      };
      for (let j = 0; j < n; j++) {
        if (!active[j] || (o.againstWho === 'unproven' && hasRecord[j]) || suspect[j] || !(statistic(j) < o.againstCos))
          continue;
        if (o.against === 'prove' && o.passes > 0) suspect[j] = true;
        else drop(j, 'opposed');
      }
    }

    // 5. L-DAWA factors on updates, per layer; 7. the weights they scale.
    const ref = o.ldawa === 'off' ? undefined : referenceLayers(own, ctx.reference, layers);
    const factors =
      ref !== undefined && ctx.round >= o.warmupRounds
        ? updateFactors(own, models, layers, ref, clip, active, o.ldawa as UpdateDirection, o.scope)
        : models.map(() => new Float64Array(layers.length).fill(1));
    const scale = layers.map((_, p) => relativeScale(factors.flatMap((f, j) => (active[j] ? [f[p]] : []))));
    // Sample counts are claims: a weight is s / median, capped at sampleCap, so inflating a
    // count buys at most sampleCap votes (and copies cannot move the median).
    const counts = candidates.map((c) => c.samples);
    const typical = median([
      ctx.ownSamples > 0 && Number.isFinite(ctx.ownSamples) ? ctx.ownSamples : 0,
      ...groups.members.map((ms) => ms.reduce((sum, j) => sum + counts[j], 0) / ms.length),
    ]);
    const sampleWeight = (s: number, cap: number): number =>
      o.sampleCap > 0 && typical > 0 ? Math.min(cap, Math.max(0, s) / typical) : 1;
    const ownWeight = sampleWeight(ctx.ownSamples, o.sampleCap);
    // With sampleTrust 'record', a claim buys more than one vote only once the sender has
    // shown it helps: a flipper holding classes few honest peers hold scores near 0 on V and
    // would otherwise weigh sampleCap from its first round.
    const capOf = (j: number): number =>
      o.sampleTrust === 'record' && !hasRecord[j] ? Math.min(1, o.sampleCap) : o.sampleCap;
    // Probation: once some sender has earned a good record, senders without one weigh less.
    const someRecord = hasRecord.some((h) => h);
    const probation = (j: number): number => (o.probation < 1 && someRecord && !hasRecord[j] ? o.probation : 1);
    const weights = factors.map((f, j) => {
      const w = new Float64Array(layers.length);
      const sw = sampleWeight(counts[j], capOf(j)) * probation(j);
      for (let p = 0; p < layers.length; p++) {
        w[p] = groupShare[j] * sw * Math.min(1, f[p] / scale[p]);
      }
      return w;
    });

    // 6. Leave-group-out acceptance.
    /**
     * Whether j's score is the worse of r and its blend. `privateHarm`: its group raised the
     * loss on V's private part this round (worseWhen 'private' / 'either').
     */
    const worseApplies = (j: number, privateHarm: boolean): boolean => {
      const low =
        o.worseWhen === 'certainty'
          ? lowCertainty[j]
          : o.worseWhen === 'private'
            ? privateHarm
            : lowCertainty[j] || privateHarm;
      if (o.worse === 'off' || !low || trust.recorded(candidates[j].peer) < Math.max(1, o.history)) return false;
      return o.worse === 'any' || (o.worse === 'poor' ? poorRecord[j] : !hasRecord[j]);
    };
    if (o.passes > 0) {
      const scored = new Map<number, number>();
      for (let pass = 0; pass < o.passes; pass++) {
        const live = groups.members
          .map((members, g) => ({ g, members: members.filter((j) => active[j]) }))
          .filter((x) => x.members.length > 0);
        if (live.length < 2) break;
        const mixer = new LeaveOutMixer(own, models, layers, weights, clip, active, ownWeight, ctx.linearInput);
        // r = (CE without g - CE with g) / CE with g. 'leave-out': against the mix of every
        // live group; 'add': against the base of own and the groups whose senders all have
        // a good record (a group outside the base is scored by adding it to the base, a
        // group inside by leaving it out), so a group's score does not depend on which
        // untrusted groups are in the mix (harms of mirrored label flippers cancel there).
        const inBase = live.map(
          ({ members }) => o.score !== 'leave-out' && members.every((j) => hasRecord[j] && !suspect[j]),
        );
        const outside = live.flatMap(({ members }, i) => (inBase[i] ? [] : members));
        const scoresWithout = (group: readonly number[]): ClassScores =>
          group.length === 0 ? mixer.fullScores(ctx.evaluate) : mixer.withoutScores(group, ctx.evaluate);
        const lossWithout = (group: readonly number[]): number => lossOf(scoresWithout(group));
        const relative = (withG: number, withoutG: number): number => {
          // Infinite losses: a group whose removal turns an infinite loss finite is harmful.
          if (!Number.isFinite(withG)) return Number.isFinite(withoutG) ? -1 : 0;
          return withG > 0 ? (withoutG - withG) / withG : 0;
        };
        const fullScores = scoresWithout([]);
        const full = lossOf(fullScores);
        const baseLoss = o.score === 'leave-out' ? full : lossWithout(outside);
        // r on a part of V (lossPart, worseWhen, partTest): the private part (own samples, which
        // no attacker knows; a public-set attacker is fitted to the public part), the worse of
        // the private and the public part, or the worst class of the private part.
        const partEffect = (without: ClassScores, part: 'private' | 'worse' | 'class'): number => {
          const p = parts as ValidationParts;
          const on = (idx: readonly number[]): number => relative(partLoss(fullScores, idx), partLoss(without, idx));
          if (part === 'private') return on(p.private);
          if (part === 'worse') return Math.min(on(p.private), on(p.public));
          // 'class': the worst class of the private part.
          let worst = Number.POSITIVE_INFINITY;
          for (const idx of p.privateByClass.values()) worst = Math.min(worst, on(idx));
          return worst;
        };
        // Scores of the mix without live group i, each computed once per pass.
        const leftOutScores = new Map<number, ClassScores>();
        const leftOut = (i: number): ClassScores => {
          let sc = leftOutScores.get(i);
          if (sc === undefined) {
            sc = scoresWithout((live[i] as { members: number[] }).members);
            leftOutScores.set(i, sc);
          }
          return sc;
        };
        const effects = live.map(({ members }, i) => {
          if (o.score === 'leave-out') {
            if (o.lossPart !== 'all' && parts !== undefined)
              return partEffect(leftOut(i), o.lossPart as 'private' | 'worse');
            return relative(full, lossOf(leftOut(i)));
          }
          if (inBase[i]) {
            return o.score === 'add'
              ? relative(baseLoss, lossWithout([...outside, ...members]))
              : relative(full, lossWithout(members));
          }
          const added = relative(lossWithout(outside.filter((j) => !members.includes(j))), baseLoss);
          return o.score === 'add' ? added : Math.min(added, relative(full, lossWithout(members)));
        });
        const scores = live.map(({ members }, i) => {
          const r = effects[i];
          if (pass === 0) for (const j of members) scored.set(j, r);
          if (o.memory === 'off') return r;
          const blended = members.map((j) => trust.blended(candidates[j].peer, r, o.prior));
          const s = blended.reduce((sum, v) => sum + v, 0) / blended.length;
          // The blend softens clear harm (a public-set attacker's r of -0.07 becomes -0.02
          // against a history near 0); once a sender has a record that does not speak for
          // it, this round's evidence is not diluted.
          const privateHarm =
            o.worseWhen !== 'certainty' && parts !== undefined && partEffect(leftOut(i), 'private') < 0;
          return members.every((j) => worseApplies(j, privateHarm)) ? Math.min(r, s) : s;
        });
        // spread: the outlier test's median and MAD over the groups whose senders all have a
        // good record (at least 3 of them), so harmful groups cannot widen the band they must
        // fall out of: for every group ('trusted'), or as a second test for the groups without
        // a good record ('unproven').
        const proven = live.map(({ members }) => members.every((j) => hasRecord[j] && !suspect[j]));
        // spreadPool: with D neighbours a merge often holds fewer than 3 such groups, and the
        // band fell back to every group, where half of them can be attackers (50% ALIE at
        // D = 8); their scores from the peer's last merges keep the band there.
        const provenScores = scores.filter((_, i) => proven[i]);
        const trustedScores = [...provenScores, ...pooled.values()];
        if (pass === 0) pooled.push(provenScores);
        const tight = spread !== 'all' && trustedScores.length >= 3;
        const reference = spread === 'trusted' && tight ? trustedScores : scores;
        const out = harmfulOutliers(scores, o.mu, o.k, o.hard > 0 ? o.hard : Number.POSITIVE_INFINITY, reference);
        if ((spread === 'unproven' || spread === 'poor') && tight) {
          const second = (i: number): boolean =>
            spread === 'unproven' ? !proven[i] : (live[i] as { members: number[] }).members.every((j) => poorRecord[j]);
          for (const i of harmfulOutliers(scores, o.mu, o.k, Number.POSITIVE_INFINITY, trustedScores))
            if (second(i) && !out.includes(i)) out.push(i);
        }
        if (o.rawTest === 'on' && o.memory === 'on') {
          // This round's own evidence, unblended: a group clearly harmful now (below -mu and an
          // outlier among this round's r) is rejected unless its sender's blended score is
          // positive (a good record outweighs one bad round).
          for (const i of harmfulOutliers(effects, o.mu, o.k)) if (!out.includes(i) && scores[i] < 0) out.push(i);
        }
        // partTest: this round's score on a part of V (lossPart's parts) is tested too: a
        // group that is a harmful outlier there (below -partMu and below median - k MAD of
        // the part scores) is rejected whatever its score on all of V and its record.
        if (o.partTest !== 'off' && parts !== undefined) {
          const partScores = live.map((_, i) => partEffect(leftOut(i), o.partTest as 'private' | 'class'));
          for (const i of harmfulOutliers(partScores, o.partMu, o.k)) if (!out.includes(i)) out.push(i);
        }
        // gce: the same score under a loss that confidently wrong samples do not dominate.
        // On CE a label flipper or a public-set attacker can score above honest specialists
        // by making the mix less sure of its wrong answers on classes few peers hold, even
        // on a large clean V; under GCE what it costs the classes it flips shows (ALGORITHMS.md).
        if (gceOn && fullScores.sampleLoss !== undefined) {
          const fullG = generalizedCrossEntropy(fullScores, o.gceQ);
          const gceScores = live.map((_, i) => relative(fullG, generalizedCrossEntropy(leftOut(i), o.gceQ)));
          const ceMedian = o.gceWho === 'below-median' ? median(effects) : Number.NaN;
          const may = (i: number): boolean =>
            o.gceWho === 'any' || (o.gceWho === 'unproven' ? !proven[i] : effects[i] < ceMedian);
          for (const i of harmfulOutliers(gceScores, o.gceMu, o.k)) if (!out.includes(i) && may(i)) out.push(i);
        }
        // Per-class leave-group-out (./class-harm.ts): a group whose worst class on V is a
        // harmful outlier among the groups' worst classes.
        if (o.classTest !== 'off' && labels !== undefined && fullScores.sampleLoss !== undefined) {
          const kind = o.classTest === 'relative' ? 'relative' : 'share';
          const perClass = live.map((_, i) => {
            const w = leftOut(i).sampleLoss;
            return w === undefined
              ? new Float64Array(ctx.numClasses)
              : classEffects(fullScores.sampleLoss as Float32Array, w, labels, ctx.numClasses, kind);
          });
          const worst = perClass.map(worstClass);
          const eligible = live.map(
            ({ members }) => o.classWho === 'any' || !members.every((j) => hasRecord[j] && !suspect[j]),
          );
          for (const i of classOutliers(worst, o.classMu, o.classK, o.classFloor))
            if (eligible[i] && !out.includes(i)) out.push(i);
        }
        // Persistent harm at this round's scale (./poor-record.ts): a sender with a poor
        // record whose r is negative beyond the round's typical |r| and an outlier.
        if (o.memory === 'on' && o.poorScale > 0) {
          const poor = live.map(({ members }, i) =>
            members.every((j) => {
              if (!poorCertainty[j]) return false;
              const a = trust.longRun(candidates[j].peer, effects[i], o.history);
              return a !== undefined && a < 0;
            }),
          );
          for (const i of persistentHarm(effects, poor, o.poorScale, o.k)) if (!out.includes(i)) out.push(i);
        }
        // Distrust: a sender whose influence has been negative on average over several
        // rounds is harmful even when one round's score is small and no outlier (a label
        // flipper that starts from the honest consensus helps on most classes and hurts a
        // few, a little, every round; an honest specialist's average stays positive).
        if (o.memory === 'on' && o.distrust > 0) {
          // Scores scale with how different the candidates are (under class shards an
          // honest neighbour holding own's classes scores a little below 0 round after
          // round, ten times the Dirichlet scale), so the bar scales with this pass's
          // median |r|.
          const bar = Math.max(o.distrust, o.distrustScale * median(effects.map(Math.abs)));
          live.forEach(({ members }, i) => {
            if (out.includes(i)) return;
            const r = effects[i];
            const averages = members.map((j) => trust.longRun(candidates[j].peer, r, o.history));
            if (averages.every((a) => a !== undefined && a < -bar)) out.push(i);
          });
        }
        const outSet = new Set(out);
        // A suspect must help at least as much as the typical trusted group (suspects
        // cannot lower the bar by their number).
        const trusted = scores.filter((_, i) => !(live[i] as { members: number[] }).members.every((j) => suspect[j]));
        const bar = Math.max(o.proveFloor, median(trusted.length > 0 ? trusted : scores));
        const unproven = live.flatMap(({ members }, i) =>
          !outSet.has(i) && members.every((j) => suspect[j]) && scores[i] < bar ? [i] : [],
        );
        if (out.length === 0 && unproven.length === 0) break;
        for (const [list, reason] of [
          [out, 'harmful'],
          [unproven, 'uncertain'],
        ] as const) {
          for (const i of list) {
            for (const j of (live[i] as { members: number[] }).members) drop(j, reason);
          }
        }
      }
      // Low-influence weight (./low-influence.ts): an accepted group whose first-pass score is
      // below the median of the accepted groups' weighs lowWeight x; lowWho 'unproven' spares
      // groups whose senders all have a good record, 'new' those with `history` recorded
      // rounds; lowBelow spares groups at or above lowBelow x the gate's reference certainty.
      if (o.lowWeight < 1) {
        const firstOf = groups.members.map((ms) => {
          const j = ms.find((x) => active[x] && scored.has(x));
          return j === undefined ? undefined : (scored.get(j) as number);
        });
        const exempt = groups.members.map(
          (ms) =>
            (o.lowBelow > 0 && !ms.every((j) => certRatio[j] < o.lowBelow)) ||
            (o.lowWho === 'unproven'
              ? ms.every((j) => hasRecord[j])
              : o.lowWho === 'new'
                ? ms.every((j) => trust.recorded(candidates[j].peer) >= Math.max(1, o.history))
                : false),
        );
        for (const g of lowInfluenceGroups(firstOf, exempt))
          for (const j of groups.members[g]) for (let p = 0; p < layers.length; p++) weights[j][p] *= o.lowWeight;
      }
      if (o.memory === 'on') for (const [j, r] of scored) trust.record(candidates[j].peer, r);
    }

    const coef = averageCoefficients(weights, clip, active, layers.length, ownWeight);
    const merged = applyMix(own, models, layers, coef);
    if (ctx.report !== undefined) {
      const { ownShare, shares } = mixShares(own, layers, coef);
      report(
        ownShare,
        candidates.flatMap((c, j) => (active[j] ? [{ peer: c.peer, seq: c.seq, share: shares[j] }] : [])),
      );
    }
    return merged;
  };
}
