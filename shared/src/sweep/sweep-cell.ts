/**
 * The sweep cell (`smlt:sweep`, YAML or JSON) and what it searches:
 *
 *     trials: 12                        # configurations to try (default 12)
 *     epochs: 9                         # the most a trial trains (default: the notebook's epochs)
 *     objective: maximize val_accuracy  # or minimize val_loss (default: accuracy when classifying)
 *     space:
 *       learningRate: {log: [0.0001, 0.01]}
 *       batchSize: [32, 64, 128]
 *       dense_1.units: [64, 128, 256]   # a layer's setting, by layer name and config key
 *
 * A name in `space` is a training setting (learningRate, batchSize, optimizer), a layer setting
 * (`layer.key` in the captured topology: Keras and JSON models), or a tfjs model cell's `hp`
 * parameter (narrowing the range the cell declared). The cell's own `hp` parameters are searched
 * even when the space leaves them out; without a sweep cell they are the whole space.
 */
import { SmltError, quoted } from '../errors.js';
import type { Captured } from '../capture/capture-types.js';
import { parseCellMapping } from '../capture/cell-mapping.js';
import type { RoleCell } from '../capture/notebook.js';
import { rungsFor, type Direction } from './asha.js';
import { type Param, parseDomain } from '../capture/search-space.js';

export const SWEEPABLE_TRAINING = ['learningRate', 'batchSize', 'optimizer'] as const;
type TrainingName = (typeof SWEEPABLE_TRAINING)[number];
const TRAINING_ALIASES: Record<string, TrainingName> = {
  lr: 'learningRate',
  learning_rate: 'learningRate',
  batch_size: 'batchSize',
};

export type Target = { kind: 'training'; field: TrainingName } | { kind: 'layer'; layer: string; key: string } | { kind: 'hp' };

export interface SweepParam extends Param {
  target: Target;
}

export interface SweepDefinition {
  trials: number;
  /** Cumulative epochs at each rung (asha.ts). */
  rungs: number[];
  eta: number;
  objective: { metric: 'accuracy' | 'loss'; direction: Direction };
  seed: number;
  params: SweepParam[];
}

const SETTINGS = ['trials', 'epochs', 'minEpochs', 'eta', 'objective', 'seed', 'space'];
export const MAX_TRIALS = 200;

export function sweepDefinition(cell: RoleCell | undefined, base: Captured, overrides: { trials?: number; epochs?: number } = {}): SweepDefinition {
  const where = cell?.label ?? 'The sweep';
  const raw = cell ? parseCellMapping(cell, 'SWEEP_INVALID') : {};
  if (typeof raw === 'string') throw new SmltError('SWEEP_INVALID', `${where} must hold "key: value" lines, e.g. "trials: 12" and a space: mapping.`);
  const settings = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()), v]));
  for (const key of Object.keys(settings)) {
    if (!SETTINGS.includes(key)) {
      throw new SmltError('SWEEP_INVALID', `${where}: unknown setting ${quoted(key)}. Valid settings: ${SETTINGS.join(', ')} (parameters go under space:).`);
    }
  }
  const { training } = base.spec;
  const trials = overrides.trials ?? wholeNumber(settings.trials, 12, `${where}: trials`, 1, MAX_TRIALS);
  const maxEpochs = overrides.epochs ?? wholeNumber(settings.epochs, training.epochs, `${where}: epochs`, 1, 10_000);
  const minEpochs = wholeNumber(settings.minEpochs, 1, `${where}: minEpochs`, 1, maxEpochs);
  const eta = wholeNumber(settings.eta, 3, `${where}: eta`, 2, 10);
  const seed = wholeNumber(settings.seed, training.seed, `${where}: seed`, 0, 2 ** 31 - 1);
  if (!(training.validationSplit > 0)) {
    throw new SmltError('SWEEP_INVALID', `${where}: a sweep ranks trials on held-out data, and the notebook holds none out: set validationSplit (e.g. 0.2).`);
  }
  const params = spaceParams(settings.space, base, where);
  if (params.length === 0) {
    throw new SmltError(
      'SWEEP_INVALID',
      `${where}: nothing to search. Add a space: mapping (e.g. learningRate: {log: [0.0001, 0.01]}) or hp.choice(...) in the model cell.`,
    );
  }
  return { trials, rungs: rungsFor(minEpochs, maxEpochs, eta), eta, objective: objectiveOf(settings.objective, base, where), seed, params };
}

function spaceParams(space: unknown, base: Captured, where: string): SweepParam[] {
  if (space !== undefined && (space === null || typeof space !== 'object' || Array.isArray(space))) {
    throw new SmltError('SWEEP_INVALID', `${where}: space must map names to ranges, e.g. space: {learningRate: {log: [0.0001, 0.01]}}.`);
  }
  const declared = base.hyperParameters ?? [];
  const named = Object.entries((space ?? {}) as Record<string, unknown>).map(([name, value]): SweepParam => {
    const at = `${where}: space.${name}`;
    const domain = parseDomain(value, at);
    const field = TRAINING_ALIASES[name] ?? SWEEPABLE_TRAINING.find((f) => f === name);
    if (field) return { name: field, domain, target: { kind: 'training', field } };
    if (declared.some((p) => p.name === name)) return { name, domain, target: { kind: 'hp' } };
    const dot = name.lastIndexOf('.');
    if (dot > 0) return { name, domain, target: layerTarget(base, name.slice(0, dot), name.slice(dot + 1), at) };
    const hps = declared.map((p) => p.name);
    throw new SmltError(
      'SWEEP_INVALID',
      `${at}: unknown name. Search a training setting (${SWEEPABLE_TRAINING.join(', ')}), a layer setting as layer.key ` +
        `(layers: ${layerNames(base).join(', ')})${hps.length > 0 ? `, or the model cell's hp parameters (${hps.join(', ')})` : ''}.`,
    );
  });
  const duplicate = named.find((p, i) => named.findIndex((q) => q.name === p.name) !== i);
  if (duplicate) throw new SmltError('SWEEP_INVALID', `${where}: space names ${duplicate.name} twice (once by an alias); name it once.`);
  // The model cell's hp parameters the space does not narrow are searched over the ranges the cell declared.
  const rest = declared.filter((p) => !named.some((q) => q.name === p.name)).map((p): SweepParam => ({ ...p, target: { kind: 'hp' } }));
  return [...named, ...rest];
}

/** The layers of a topology, by name: Sequential and functional models keep them in config.layers. */
export function topologyLayers(topology: Record<string, unknown>): Array<{ config: Record<string, unknown>; class_name?: string }> {
  const config = topology.config as { layers?: unknown } | undefined;
  const layers = Array.isArray(config?.layers) ? config.layers : [];
  return layers.filter((l): l is { config: Record<string, unknown>; class_name?: string } => typeof (l as { config?: unknown })?.config === 'object');
}

function layerNames(base: Captured): string[] {
  return topologyLayers(base.spec.model.topology).map((l) => String(l.config.name));
}

function layerTarget(base: Captured, layer: string, key: string, where: string): Target {
  const found = topologyLayers(base.spec.model.topology).find((l) => l.config.name === layer);
  if (!found) {
    throw new SmltError('SWEEP_INVALID', `${where}: the model has no layer named ${quoted(layer)}. Its layers: ${layerNames(base).join(', ')}.`);
  }
  // tfjs topologies spell keys as Keras does (snake_case); users may write either.
  const snake = key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  const actual = [key, snake].find((k) => k in found.config);
  if (!actual) {
    const keys = Object.keys(found.config).filter((k) => ['number', 'string', 'boolean'].includes(typeof found.config[k]) && k !== 'name');
    throw new SmltError('SWEEP_INVALID', `${where}: layer ${layer} (${found.class_name ?? 'layer'}) has no setting ${quoted(key)}. Its settings: ${keys.join(', ')}.`);
  }
  return { kind: 'layer', layer, key: actual };
}

function objectiveOf(value: unknown, base: Captured, where: string): SweepDefinition['objective'] {
  const { loss, metrics } = base.spec.training;
  if (value === undefined) {
    const classifies = /crossentropy/i.test(loss) && metrics.includes('accuracy');
    return classifies ? { metric: 'accuracy', direction: 'maximize' } : { metric: 'loss', direction: 'minimize' };
  }
  const match = typeof value === 'string' ? /^\s*(?:(maximi[sz]e|minimi[sz]e)\s+)?(?:val_)?(accuracy|loss)\s*$/i.exec(value) : null;
  if (!match) {
    throw new SmltError('SWEEP_INVALID', `${where}: objective ${quoted(value)} is not one SMLT measures: write maximize val_accuracy or minimize val_loss.`);
  }
  const metric = match[2]!.toLowerCase() as 'accuracy' | 'loss';
  const direction: Direction = match[1] ? (match[1].toLowerCase().startsWith('max') ? 'maximize' : 'minimize') : metric === 'accuracy' ? 'maximize' : 'minimize';
  if (metric === 'accuracy' && !metrics.includes('accuracy')) {
    throw new SmltError('SWEEP_INVALID', `${where}: the objective is accuracy but the notebook measures none: add metrics: [accuracy], or minimize val_loss.`);
  }
  return { metric, direction };
}

function wholeNumber(value: unknown, fallback: number, where: string, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new SmltError('SWEEP_INVALID', `${where} must be a whole number from ${min} to ${max} (got ${quoted(value)}).`);
  }
  return value;
}
