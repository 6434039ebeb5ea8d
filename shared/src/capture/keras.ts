import { SmltError } from '../errors.js';
import { parseJsonDocument } from '../data/json-document.js';

/**
 * Turns the JSON model definitions users paste or point at — Keras 2 or Keras 3
 * `model.to_json()`, the tensorflowjs converter's `model.json`, a tfjs `model.toJSON()` — into
 * the Keras 2 form that tfjs-layers' `modelFromJSON` loads.
 */

export interface ModelDocument {
  topology: Record<string, unknown>;
  /** A tfjs `model.json` (converter or `model.save`) rather than a Keras `to_json()`. */
  isTfjsModelJson: boolean;
  /** Keras 3 `to_json()` of a compiled model carries its compile settings. */
  compileConfig?: unknown;
}

/** Finds the topology inside a parsed JSON document, where each producer nests it differently. */
export function modelDocument(doc: unknown, where: string): ModelDocument {
  if (!isRecord(doc)) throw notAModel(where);
  // tfjs model.json: { format: 'layers-model', modelTopology, weightsManifest }.
  const isTfjsModelJson = 'modelTopology' in doc;
  let topology: unknown = isTfjsModelJson ? doc.modelTopology : doc;
  // Keras `model.save()` and the converter's Keras input: { model_config, training_config }.
  if (isRecord(topology) && 'model_config' in topology) topology = topology.model_config;
  const compileConfig = isRecord(topology) ? topology.compile_config : undefined;
  // h5 attributes keep model_config as a JSON string.
  if (typeof topology === 'string') topology = parseJson(topology, where);
  if (!isRecord(topology) || typeof topology.class_name !== 'string' || !isRecord(topology.config)) {
    throw notAModel(where);
  }
  const normalized = normalizeKerasTopology(topology);
  return compileConfig === undefined || compileConfig === null
    ? { topology: normalized, isTfjsModelJson }
    : { topology: normalized, isTfjsModelJson, compileConfig };
}

/** Keras 3 metadata that tfjs-layers does not know and does not need. */
const DROPPED_KEYS = new Set(['module', 'registered_name', 'build_config', 'compile_config', 'shared_object_id']);

/** Dtype-policy classes: Keras 3 (`DTypePolicy`, older `FloatDTypePolicy`) and Keras 2 mixed precision (`Policy`). */
const DTYPE_POLICIES = new Set(['DTypePolicy', 'FloatDTypePolicy', 'Policy']);

/** Keras class names that tfjs-layers spells differently. */
const RENAMED_CLASSES: Record<string, string> = { LecunNormal: 'LeCunNormal', LecunUniform: 'LeCunUniform' };

/**
 * Rewrites a Keras 3 topology into Keras 2 form; Keras 2 and tfjs topologies pass through
 * unchanged, so every JSON model can go through it.
 */
export function normalizeKerasTopology(topology: Record<string, unknown>): Record<string, unknown> {
  return normalize(topology) as Record<string, unknown>;
}

function normalize(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalize);
  if (!isRecord(value)) return value;
  if (typeof value.class_name === 'string' && DTYPE_POLICIES.has(value.class_name) && isRecord(value.config)) {
    return policyDtype(value.config);
  }
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (DROPPED_KEYS.has(key)) continue;
    if (key === 'batch_shape') {
      // Keras 3's InputLayer argument; tfjs-layers reads the Keras 2 name.
      if (!('batch_input_shape' in value)) out.batch_input_shape = v;
    } else if (key === 'inbound_nodes' && Array.isArray(v)) {
      out.inbound_nodes = v.map(inboundNode);
    } else if ((key === 'input_layers' || key === 'output_layers') && Array.isArray(v)) {
      // Keras 3 may write a single tensor as a flat [layer, node, tensor].
      out[key] = typeof v[0] === 'string' ? [v] : v;
    } else {
      out[key] = normalize(v);
    }
  }
  if (typeof out.class_name === 'string') {
    renameClass(out);
    rejectGroupedConvolution(out);
  }
  return out;
}

/** Mixed-precision policies keep float32 variables, which is what tfjs trains with. */
function policyDtype(config: Record<string, unknown>): string {
  const name = typeof config.name === 'string' ? config.name : 'float32';
  return name.startsWith('mixed_') ? 'float32' : name;
}

function renameClass(object: Record<string, unknown>): void {
  const className = object.class_name as string;
  if (className in RENAMED_CLASSES) object.class_name = RENAMED_CLASSES[className];
  // Keras ≥ 2.4 writes L1 / L2 regularizers as their own classes; tfjs-layers has only L1L2.
  if ((className === 'L1' || className === 'L2') && isRecord(object.config)) {
    object.class_name = 'L1L2';
    object.config = { l1: 0, l2: 0, ...object.config };
  }
}

/** tfjs-layers ignores `groups` and would silently build an ordinary (larger) convolution. */
function rejectGroupedConvolution(layer: Record<string, unknown>): void {
  const config = layer.config;
  if (!isRecord(config) || typeof config.groups !== 'number' || config.groups <= 1) return;
  throw new SmltError(
    'MODEL_UNSUPPORTED_LAYER',
    `Layer "${String(config.name)}" (${String(layer.class_name)}) is a grouped convolution ` +
      `(groups: ${config.groups}), which TensorFlow.js cannot build. Use groups: 1 or a SeparableConv2D.`,
  );
}

/**
 * Keras 3 node: `{ args: [...], kwargs: {...} }`, where the input tensors sit anywhere in `args`
 * (one tensor, or a list of them for Add/Concatenate) as `__keras_tensor__` objects.
 * Keras 2 node: `[[layer, node, tensor, kwargs], ...]`, one entry per input tensor, in order.
 */
function inboundNode(node: unknown): unknown {
  if (!isRecord(node) || !('args' in node)) return normalize(node);
  const kwargs = isRecord(node.kwargs) ? normalize(node.kwargs) : {};
  return kerasHistories(node.args).map((history) => [...history, kwargs]);
}

function kerasHistories(value: unknown): unknown[][] {
  if (Array.isArray(value)) return value.flatMap(kerasHistories);
  if (!isRecord(value)) return [];
  if (value.class_name === '__keras_tensor__' && isRecord(value.config) && Array.isArray(value.config.keras_history)) {
    return [value.config.keras_history.slice(0, 3)];
  }
  return Object.values(value).flatMap(kerasHistories);
}

function parseJson(text: string, where: string): unknown {
  const parsed = parseJsonDocument(text);
  if ('problem' in parsed) throw notAModel(where);
  return parsed.value;
}

function notAModel(where: string): SmltError {
  return new SmltError(
    'MODEL_INVALID',
    `${where} is not a model definition: expected Keras model.to_json() output ` +
      `({"class_name": ..., "config": ...}) or a TensorFlow.js model.json.`,
  );
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
