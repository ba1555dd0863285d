/**
 * JSON Schema fragments for the values a domain parser reads (read.ts `parsedBy`): what an
 * editor needs to complete and check a model, partition, codec or strategy. The parsers
 * decide; these only describe their input. test/config/json-schema.test.ts validates every
 * shipped config and scenario against the generated schemas, so a parser that accepts more
 * than its shape says shows up there.
 */
import type { JsonShape } from './read.ts';

const POSITIVE_WIDTH = { type: 'integer', minimum: 1, maximum: 65_536 } as const;

/** src/model/spec.ts parseModelSpec. */
export const MODEL_SHAPE: JsonShape = {
  description:
    'A model name (mlp = hidden [256, 128], cnn = RepOpt VGG-style, cnn-plain, cnn-repvgg) or a spec: {kind: mlp, hidden}, {kind: cnn, stages, dense, reparam, batchNormStats} or {kind: tfjs, topology, outputLayer, batchNormStats}.',
  anyOf: [
    { type: 'string', enum: ['mlp', 'cnn', 'cnn-plain', 'cnn-repvgg'] },
    {
      type: 'object',
      properties: {
        kind: { const: 'mlp' },
        hidden: { type: 'array', items: POSITIVE_WIDTH, description: 'Hidden layer widths, e.g. [128, 64].' },
      },
      required: ['kind'],
      additionalProperties: false,
    },
    {
      type: 'object',
      properties: {
        kind: { const: 'cnn' },
        stages: {
          type: 'array',
          minItems: 1,
          items: { type: 'array', items: POSITIVE_WIDTH },
          description: 'Output channels of each 3x3 conv per stage; a 2x2 max-pool closes each stage.',
        },
        dense: { type: 'integer', minimum: 0, description: 'Width of the dense layer after the convs (0 = none).' },
        reparam: { enum: ['repopt', 'none', 'repvgg'] },
        batchNormStats: {
          enum: ['merge', 'local'],
          description: 'repvgg only: merge the BatchNorm moving statistics (default) or keep them local (FedBN).',
        },
      },
      required: ['kind'],
      additionalProperties: false,
    },
    {
      type: 'object',
      properties: {
        kind: { const: 'tfjs' },
        topology: {
          type: 'object',
          description: "A tfjs LayersModel's modelTopology (or a whole model.json).",
        },
        outputLayer: { type: 'string', description: 'Name of the Dense output layer, when it is not the last one.' },
        batchNormStats: {
          enum: ['merge', 'local'],
          description: 'Merge the BatchNorm moving statistics (default) or keep them local (FedBN).',
        },
      },
      required: ['kind', 'topology'],
      additionalProperties: false,
    },
  ],
};

/** src/data/partition-spec.ts parsePartitionSpec. */
export const PARTITION_SHAPE: JsonShape = {
  description:
    'How the training set is split across peers: iid, {kind: dirichlet, alpha, minSamples?}, {kind: shards, classesPerPeer, layout?}, or the short forms "dirichlet:0.5", "shards:2".',
  anyOf: [
    { type: 'string', pattern: '^(iid|dirichlet:[^:]+(:[^:]+)?|shards:[^:]+(:(consecutive|random))?)$' },
    {
      type: 'object',
      properties: { kind: { const: 'iid' } },
      required: ['kind'],
      additionalProperties: false,
    },
    {
      type: 'object',
      properties: {
        kind: { const: 'dirichlet' },
        alpha: { type: 'number', exclusiveMinimum: 0 },
        minSamples: { type: 'integer', minimum: 0 },
      },
      required: ['kind', 'alpha'],
      additionalProperties: false,
    },
    {
      type: 'object',
      properties: {
        kind: { const: 'shards' },
        classesPerPeer: { type: 'integer', minimum: 1 },
        layout: { enum: ['consecutive', 'random'] },
      },
      required: ['kind', 'classesPerPeer'],
      additionalProperties: false,
    },
  ],
};

/** src/wire/codec-spec.ts parseCodec. */
export const CODEC_SHAPE: JsonShape = {
  description: 'Update codec: fp32, fp16, int8, or topk:<fraction>+<fp32|fp16|int8> (docs/PROTOCOL.md).',
  type: 'string',
  pattern: '^\\s*(fp32|fp16|int8|topk:[0-9.]+(\\+(fp32|fp16|int8))?)\\s*$',
};

/**
 * src/merge/registry.ts createStrategy: a name, or a name with the rule's options. The
 * caller passes the registry's names and default (config/ sits below merge/).
 */
export function strategyShape(names: readonly string[], defaultName: string): JsonShape {
  const name = { type: 'string', enum: [...names] };
  return {
    description: `A merge strategy name, or {name, options} (options: docs/ALGORITHMS.md). Default ${defaultName}.`,
    anyOf: [
      name,
      {
        type: 'object',
        properties: { name, options: { type: 'object' } },
        required: ['name'],
        additionalProperties: false,
      },
    ],
  };
}
