/**
 * The checks of a tfjs model's topology (src/model/tfjs-model.ts), without tfjs: parsing
 * a spec and bounding a task must not load tfjs (the CLI answers --help and bad input
 * before it does, and a peer bounds a received task before allocating anything).
 */

/** Whether BatchNorm moving statistics are merged with the peers' weights or kept by each peer (FedBN). */
export type BatchNormStats = 'merge' | 'local';

/** A tfjs LayersModel brought by the user (src/model/tfjs-model.ts). */
export interface TfjsSpec {
  readonly kind: 'tfjs';
  /** The `modelTopology` of a tfjs model.json (Keras JSON), keys sorted. */
  readonly topology: Readonly<Record<string, unknown>>;
  /** Name of the output Dense layer (found when the spec is parsed, if not given). */
  readonly outputLayer: string;
  readonly batchNormStats: BatchNormStats;
}

/** Layers in a topology, at most. */
export const MAX_TFJS_LAYERS = 512;
/** Largest value of a size in a layer's config (units, filters, kernel size, ...). */
const MAX_CONFIG_DIM = 1 << 20;

export type Shape = readonly number[];
export type Json = Record<string, unknown>;

interface LayerInfo {
  readonly name: string;
  readonly className: string;
  readonly config: Json;
  readonly inbound: readonly string[];
}

/** What the topology check found: shapes and sizes, computed without tfjs. */
export interface TfjsTopologyInfo {
  readonly inputShape: Shape;
  readonly outputLayer: string;
  readonly classes: number;
  /** Width of the output layer's input. */
  readonly featureSize: number;
  /** Weights and state values of the whole model. */
  readonly parameters: number;
}

class TopologyError extends RangeError {}

function fail(why: string): never {
  throw new TopologyError(why);
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function dim(v: unknown, what: string): number {
  if (!Number.isInteger(v) || (v as number) < 1 || (v as number) > MAX_CONFIG_DIM) {
    fail(`${what} must be an integer in [1, ${MAX_CONFIG_DIM}], got ${JSON.stringify(v)}`);
  }
  return v as number;
}

function pair(v: unknown, what: string, fallback?: readonly [number, number]): [number, number] {
  if (v === undefined || v === null) {
    if (fallback) return [...fallback];
    return fail(`${what} is missing`);
  }
  if (Array.isArray(v) && v.length === 2) return [dim(v[0], what), dim(v[1], what)];
  if (Array.isArray(v) && v.length === 1) return [dim(v[0], what), dim(v[0], what)];
  const d = dim(v, what);
  return [d, d];
}

function single(v: unknown, what: string, fallback?: number): number {
  if (v === undefined || v === null) return fallback ?? fail(`${what} is missing`);
  if (Array.isArray(v) && v.length === 1) return dim(v[0], what);
  return dim(v, what);
}

function padding(v: unknown, what: string): 'same' | 'valid' {
  if (v === undefined || v === 'valid') return 'valid';
  if (v === 'same') return 'same';
  return fail(`${what} must be "same" or "valid" (causal padding is not supported), got ${JSON.stringify(v)}`);
}

function spatial(size: number, k: number, stride: number, dilation: number, pad: 'same' | 'valid', what: string) {
  const eff = (k - 1) * dilation + 1;
  const out = pad === 'same' ? Math.ceil(size / stride) : Math.floor((size - eff) / stride) + 1;
  if (out < 1) fail(`${what}: a window of ${eff} does not fit ${size} positions`);
  return out;
}

function channelsLast(config: Json, what: string): void {
  const f = config.data_format;
  if (f !== undefined && f !== null && f !== 'channels_last')
    fail(`${what}: only data_format "channels_last" is supported`);
}

function rank(shape: Shape, want: number, what: string): void {
  if (shape.length !== want) fail(`${what} needs inputs of rank ${want + 1} with the batch, got [null, ${shape}]`);
}

function last(shape: Shape): number {
  return shape[shape.length - 1];
}

function useBias(config: Json): boolean {
  return config.use_bias !== false;
}

type Rule = (inputs: readonly Shape[], config: Json, what: string) => { out: Shape; params: number };

function one(inputs: readonly Shape[], what: string): Shape {
  if (inputs.length !== 1) fail(`${what} takes one input, got ${inputs.length}`);
  return inputs[0];
}

const same: Rule = (inputs, _c, what) => ({ out: one(inputs, what), params: 0 });

function conv2d(depthwise: boolean): Rule {
  return (inputs, c, what) => {
    const x = one(inputs, what);
    rank(x, 3, what);
    channelsLast(c, what);
    const [kh, kw] = pair(c.kernel_size, `${what}.kernel_size`);
    const [sh, sw] = pair(c.strides, `${what}.strides`, [1, 1]);
    const [dh, dw] = pair(c.dilation_rate, `${what}.dilation_rate`, [1, 1]);
    const pad = padding(c.padding, `${what}.padding`);
    const cin = x[2];
    const cout = depthwise
      ? cin * single(c.depth_multiplier, `${what}.depth_multiplier`, 1)
      : dim(c.filters, `${what}.filters`);
    const kernel = depthwise ? kh * kw * cout : kh * kw * cin * cout;
    return {
      out: [spatial(x[0], kh, sh, dh, pad, what), spatial(x[1], kw, sw, dw, pad, what), cout],
      params: kernel + (useBias(c) ? cout : 0),
    };
  };
}

const conv1d: Rule = (inputs, c, what) => {
  const x = one(inputs, what);
  rank(x, 2, what);
  channelsLast(c, what);
  const k = single(c.kernel_size, `${what}.kernel_size`);
  const s = single(c.strides, `${what}.strides`, 1);
  const d = single(c.dilation_rate, `${what}.dilation_rate`, 1);
  const filters = dim(c.filters, `${what}.filters`);
  return {
    out: [spatial(x[0], k, s, d, padding(c.padding, `${what}.padding`), what), filters],
    params: k * x[1] * filters + (useBias(c) ? filters : 0),
  };
};

function pool(dims: 1 | 2): Rule {
  return (inputs, c, what) => {
    const x = one(inputs, what);
    rank(x, dims + 1, what);
    channelsLast(c, what);
    const pad = padding(c.padding, `${what}.padding`);
    if (dims === 1) {
      const k = single(c.pool_size, `${what}.pool_size`, 2);
      const s = single(c.strides, `${what}.strides`, k);
      return { out: [spatial(x[0], k, s, 1, pad, what), x[1]], params: 0 };
    }
    const [kh, kw] = pair(c.pool_size, `${what}.pool_size`, [2, 2]);
    const [sh, sw] = pair(c.strides, `${what}.strides`, [kh, kw]);
    return {
      out: [spatial(x[0], kh, sh, 1, pad, what), spatial(x[1], kw, sw, 1, pad, what), x[2]],
      params: 0,
    };
  };
}

function globalPool(dims: 1 | 2): Rule {
  return (inputs, c, what) => {
    const x = one(inputs, what);
    rank(x, dims + 1, what);
    channelsLast(c, what);
    return { out: [last(x)], params: 0 };
  };
}

function lastAxis(c: Json, x: Shape, what: string): void {
  const axis = Array.isArray(c.axis) && c.axis.length === 1 ? c.axis[0] : c.axis;
  if (axis !== undefined && axis !== -1 && axis !== x.length) {
    fail(`${what}: only the last axis (-1) is supported, got axis ${JSON.stringify(c.axis)}`);
  }
}

const elementwise: Rule = (inputs, _c, what) => {
  if (inputs.length < 2) fail(`${what} needs at least two inputs`);
  const first = inputs[0].join('x');
  for (const s of inputs)
    if (s.join('x') !== first) fail(`${what}: input shapes differ (${inputs.map((i) => `[${i}]`)})`);
  return { out: inputs[0], params: 0 };
};

/**
 * Layers meshfl can train and merge, with how each maps input shapes (without the batch)
 * to its output shape and parameter count. Weights merge value by value like every layer;
 * what makes a layer unsupported is state or structure merging would break (recurrent
 * state, embeddings of ids, custom code) or config this check cannot bound.
 */
export const SUPPORTED_LAYERS: Readonly<Record<string, Rule>> = {
  Dense: (inputs, c, what) => {
    const x = one(inputs, what);
    const units = dim(c.units, `${what}.units`);
    return { out: [...x.slice(0, -1), units], params: last(x) * units + (useBias(c) ? units : 0) };
  },
  Conv1D: conv1d,
  Conv2D: conv2d(false),
  DepthwiseConv2D: conv2d(true),
  BatchNormalization: (inputs, c, what) => {
    const x = one(inputs, what);
    lastAxis(c, x, what);
    const n = last(x);
    return { out: x, params: 2 * n + (c.scale === false ? 0 : n) + (c.center === false ? 0 : n) };
  },
  LayerNormalization: (inputs, c, what) => {
    const x = one(inputs, what);
    lastAxis(c, x, what);
    const n = last(x);
    return { out: x, params: (c.scale === false ? 0 : n) + (c.center === false ? 0 : n) };
  },
  Flatten: (inputs, _c, what) => ({ out: [one(inputs, what).reduce((a, b) => a * b, 1)], params: 0 }),
  Reshape: (inputs, c, what) => {
    const x = one(inputs, what);
    if (!Array.isArray(c.target_shape)) fail(`${what}.target_shape must be a list`);
    const target = c.target_shape.map((d) => dim(d, `${what}.target_shape`));
    if (target.reduce((a, b) => a * b, 1) !== x.reduce((a, b) => a * b, 1)) {
      fail(`${what}: cannot reshape [${x}] to [${target}]`);
    }
    return { out: target, params: 0 };
  },
  Activation: same,
  ReLU: same,
  LeakyReLU: same,
  ELU: same,
  Softmax: same,
  Dropout: same,
  SpatialDropout1D: same,
  GaussianNoise: same,
  GaussianDropout: same,
  MaxPooling1D: pool(1),
  AveragePooling1D: pool(1),
  MaxPooling2D: pool(2),
  AveragePooling2D: pool(2),
  GlobalAveragePooling1D: globalPool(1),
  GlobalMaxPooling1D: globalPool(1),
  GlobalAveragePooling2D: globalPool(2),
  GlobalMaxPooling2D: globalPool(2),
  Add: elementwise,
  Subtract: elementwise,
  Multiply: elementwise,
  Average: elementwise,
  Maximum: elementwise,
  Minimum: elementwise,
  Concatenate: (inputs, c, what) => {
    if (inputs.length < 2) fail(`${what} needs at least two inputs`);
    const r = inputs[0].length;
    if (c.axis !== undefined && c.axis !== -1 && c.axis !== r) fail(`${what}: only the last axis (-1) is supported`);
    const head = (s: Shape) => s.slice(0, -1).join('x');
    for (const s of inputs) if (s.length !== r || head(s) !== head(inputs[0])) fail(`${what}: shapes differ`);
    return { out: [...inputs[0].slice(0, -1), inputs.reduce((n, s) => n + last(s), 0)], params: 0 };
  },
  ZeroPadding2D: (inputs, c, what) => {
    const x = one(inputs, what);
    rank(x, 3, what);
    const p = c.padding ?? 1;
    let rows: [number, number];
    let cols: [number, number];
    const n = (v: unknown) => (v === 0 ? 0 : dim(v, `${what}.padding`));
    if (typeof p === 'number') rows = cols = [n(p), n(p)];
    else if (Array.isArray(p) && p.length === 2 && p.every((q) => typeof q === 'number')) {
      rows = [n(p[0]), n(p[0])];
      cols = [n(p[1]), n(p[1])];
    } else if (Array.isArray(p) && p.length === 2 && p.every((q) => Array.isArray(q) && q.length === 2)) {
      rows = [n(p[0][0]), n(p[0][1])];
      cols = [n(p[1][0]), n(p[1][1])];
    } else return fail(`${what}.padding is not a padding`);
    return {
      out: [x[0] + rows[0] + rows[1], x[1] + cols[0] + cols[1], x[2]],
      params: 0,
    };
  },
};

const MODEL_CLASSES = ['Sequential', 'Model', 'Functional'];

/** The Keras-JSON topology: `model_config` of a full Keras save, else itself. */
function topologyRoot(topology: Json): Json {
  return isObject(topology.model_config) ? topology.model_config : topology;
}

function layerList(topology: Json): { sequential: boolean; layers: LayerInfo[]; inputName?: string; output?: string } {
  const root = topologyRoot(topology);
  const className = root.class_name;
  if (typeof className !== 'string' || !MODEL_CLASSES.includes(className)) {
    fail(`topology.class_name must be one of ${MODEL_CLASSES.join(', ')}, got ${JSON.stringify(className)}`);
  }
  const config = root.config;
  const rawLayers = Array.isArray(config) ? config : isObject(config) ? config.layers : undefined;
  if (!Array.isArray(rawLayers) || rawLayers.length === 0) fail('topology.config.layers must be a non-empty list');
  if (rawLayers.length > MAX_TFJS_LAYERS) fail(`topology has ${rawLayers.length} layers, at most ${MAX_TFJS_LAYERS}`);
  const sequential = className === 'Sequential';
  const layers = rawLayers.map((raw, i): LayerInfo => {
    if (!isObject(raw) || typeof raw.class_name !== 'string' || !isObject(raw.config)) {
      fail(`topology layer ${i} must be { class_name, config }`);
    }
    const name = typeof raw.name === 'string' ? raw.name : raw.config.name;
    if (typeof name !== 'string' || name === '') fail(`topology layer ${i} has no name`);
    const inbound: string[] = [];
    if (!sequential) {
      const nodes = raw.inbound_nodes;
      if (!Array.isArray(nodes)) fail(`layer "${name}": inbound_nodes must be a list`);
      if (nodes.length > 1) fail(`layer "${name}" is applied ${nodes.length} times; shared layers are not supported`);
      for (const node of nodes.length === 1 ? (nodes[0] as unknown[]) : []) {
        if (!Array.isArray(node) || typeof node[0] !== 'string' || node[1] !== 0 || node[2] !== 0) {
          fail(`layer "${name}": an inbound node must be [layer name, 0, 0, {}]`);
        }
        inbound.push(node[0]);
      }
    }
    return { name, className: raw.class_name, config: raw.config, inbound };
  });
  if (sequential) return { sequential, layers };
  const c = config as Json;
  const ends = (key: string): string => {
    const list = c[key];
    if (!Array.isArray(list) || list.length !== 1 || !Array.isArray(list[0]) || typeof list[0][0] !== 'string') {
      return fail(`topology.config.${key} must name exactly one layer (one input, one output)`);
    }
    return list[0][0];
  };
  return { sequential, layers, inputName: ends('input_layers'), output: ends('output_layers') };
}

function batchInputShape(config: Json, what: string): Shape {
  const s = config.batch_input_shape ?? config.batchInputShape;
  if (!Array.isArray(s) || s.length < 2) fail(`${what} needs batch_input_shape [null, ...sample dims]`);
  return s.slice(1).map((d) => dim(d, `${what}.batch_input_shape`));
}

/**
 * Checks a topology and infers its shapes and size without tfjs. Throws a RangeError naming
 * the layer when one is unsupported, misconfigured, or the output layer does not fit.
 */
export function inspectTopology(topology: Json, classes: number | undefined, outputLayer?: string): TfjsTopologyInfo {
  const { sequential, layers, inputName, output } = layerList(topology);
  const shapes = new Map<string, Shape>();
  const order: string[] = [];
  let inputShape: Shape | undefined;
  let parameters = 0;
  let previous: Shape | undefined;
  for (const [i, l] of layers.entries()) {
    const what = `layer "${l.name}" (${l.className})`;
    if (shapes.has(l.name)) fail(`${what}: two layers are named "${l.name}"`);
    if (l.config.trainable === false) fail(`${what} is frozen (trainable: false); meshfl trains every layer`);
    const dtype = l.config.dtype;
    if (dtype !== undefined && dtype !== null && dtype !== 'float32') fail(`${what}: only float32 is supported`);
    let inputs: Shape[];
    if (l.className === 'InputLayer') {
      inputShape = batchInputShape(l.config, what);
      shapes.set(l.name, inputShape);
      order.push(l.name);
      previous = inputShape;
      continue;
    }
    if (sequential) {
      if (previous === undefined) {
        if (i !== 0) fail(`${what}: no input shape`);
        previous = inputShape = batchInputShape(l.config, `${what} (the first layer)`);
      }
      inputs = [previous];
    } else {
      if (l.inbound.length === 0) fail(`${what} has no inputs`);
      inputs = l.inbound.map((from) => shapes.get(from) ?? fail(`${what}: input "${from}" is not an earlier layer`));
    }
    const rule = SUPPORTED_LAYERS[l.className];
    if (rule === undefined) {
      fail(
        `${what} has no merge rule in meshfl; supported layers: InputLayer, ${Object.keys(SUPPORTED_LAYERS).join(', ')}`,
      );
    }
    const { out, params } = rule(inputs, l.config, what);
    parameters += params;
    shapes.set(l.name, out);
    order.push(l.name);
    previous = out;
  }
  if (inputShape === undefined) fail('topology has no input shape');
  if (
    !sequential &&
    inputName !== undefined &&
    !layers.some((l) => l.name === inputName && l.className === 'InputLayer')
  ) {
    fail(`topology input "${inputName}" is not an InputLayer`);
  }
  const produced = sequential ? order[order.length - 1] : output;
  const outName = outputLayer ?? produced;
  const out = layers.find((l) => l.name === outName);
  if (out === undefined || outName === undefined) return fail(`output layer "${outName}" is not in the topology`);
  const what = `output layer "${out.name}"`;
  if (out.className !== 'Dense')
    fail(`${what} must be a Dense layer (Bristle scores its columns per class), got ${out.className}`);
  const act = out.config.activation;
  if (act !== undefined && act !== null && act !== 'linear' && act !== 'softmax') {
    fail(`${what} must have a linear or softmax activation (the loss applies softmax), got ${JSON.stringify(act)}`);
  }
  const units = dim(out.config.units, `${what}.units`);
  if (classes !== undefined && units !== classes) fail(`${what} has ${units} units, the task has ${classes} classes`);
  const index = layers.indexOf(out);
  const inShape = sequential ? shapes.get(order[order.indexOf(out.name) - 1]) : shapes.get(out.inbound[0]);
  if (inShape === undefined || inShape.length !== 1) {
    fail(`${what} must take a flat input [batch, features], got [null, ${inShape ?? '?'}]`);
  }
  if (outName !== produced && (sequential ? index !== layers.length - 1 : true)) {
    // A head before the end would train a model whose output is not the head's.
    const after = sequential
      ? layers.slice(index + 1)
      : layers.filter((l) => l.inbound.includes(out.name) || l.name === produced);
    if (after.some((l) => !['Activation', 'Softmax'].includes(l.className))) {
      fail(`${what} is not the model's output; only an activation may follow it`);
    }
  }
  return { inputShape, outputLayer: out.name, classes: units, featureSize: inShape[0], parameters };
}

/** A JSON value with object keys sorted at every depth: the topology's canonical form. */
export function canonicalJson(value: unknown, where = 'topology', depth = 0): unknown {
  if (depth > 64) fail(`${where} is nested too deeply`);
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) fail(`${where}: ${value} is not a finite number`);
    return value;
  }
  if (Array.isArray(value)) return value.map((x, i) => canonicalJson(x, `${where}[${i}]`, depth + 1));
  if (isObject(value)) {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, canonicalJson(value[k], `${where}.${k}`, depth + 1)]),
    );
  }
  return fail(`${where}: ${typeof value} is not JSON data`);
}

/** Parses a `{ kind: "tfjs", topology, outputLayer?, batchNormStats? }` spec (untrusted). */
export function parseTfjsSpec(v: Json, what: string): TfjsSpec {
  const extra = Object.keys(v).filter((k) => !['kind', 'topology', 'outputLayer', 'batchNormStats'].includes(k));
  if (extra.length > 0)
    throw new RangeError(
      `${what}.${extra[0]} is not a key of a tfjs model (kind, topology, outputLayer, batchNormStats)`,
    );
  let topology = v.topology;
  // A whole model.json is accepted too: its weights are not used (the task's seed initialises).
  if (isObject(topology) && isObject(topology.modelTopology)) topology = topology.modelTopology;
  if (!isObject(topology))
    throw new RangeError(`${what}.topology must be the modelTopology object of a tfjs model.json`);
  const stats = v.batchNormStats ?? 'merge';
  if (stats !== 'merge' && stats !== 'local') throw new RangeError(`${what}.batchNormStats must be "merge" or "local"`);
  if (v.outputLayer !== undefined && typeof v.outputLayer !== 'string') {
    throw new RangeError(`${what}.outputLayer must be a layer name`);
  }
  try {
    const canonical = canonicalJson(topology) as Json;
    const info = inspectTopology(canonical, undefined, v.outputLayer);
    return { kind: 'tfjs', topology: canonical, outputLayer: info.outputLayer, batchNormStats: stats };
  } catch (err) {
    if (err instanceof TopologyError) throw new RangeError(`${what}.topology: ${err.message}`);
    throw err;
  }
}

/** Parameters (weights and state) of a tfjs spec's model; the spec was checked when parsed. */
export function tfjsParameterCount(spec: TfjsSpec): number {
  return inspectTopology(spec.topology as Json, undefined, spec.outputLayer).parameters;
}

/** Units of the output layer (the classes the model predicts). */
export function outputUnits(spec: TfjsSpec): number {
  return inspectTopology(spec.topology as Json, undefined, spec.outputLayer).classes;
}

/** Shape of one sample the topology takes. */
export function tfjsInputShape(spec: TfjsSpec): Shape {
  return inspectTopology(spec.topology as Json, undefined, spec.outputLayer).inputShape;
}

/**
 * FNV-1a 32-bit of the canonical topology, 8 hex chars: what the task fingerprint covers of
 * a tfjs model beyond its layer names and shapes (activations, connections, padding).
 */
export function topologyDigest(spec: TfjsSpec): string {
  const text = JSON.stringify(spec.topology);
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}
