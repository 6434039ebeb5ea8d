/**
 * A trial's job: the captured notebook with the trial's settings. Training settings replace the
 * config's; a tfjs model cell runs again with `hp` returning the trial's values; a layer setting is
 * written into the topology. Every variant is rebuilt in the sandbox (as capture builds the base
 * model), so one the model cannot take fails before the sweep starts, naming the settings.
 */
import { SmltError, isSmltError } from '../errors.js';
import type { Captured } from '../capture/capture-types.js';
import { trainingConfig } from '../capture/config-cell.js';
import { captureModel } from '../capture/model-cell.js';
import type { RoleCell } from '../capture/notebook.js';
import { validateRunShape } from '../run/run-shape.js';
import type { ModelSpec, TrainingConfig } from '../spec/job-spec.js';
import { type SweepDefinition, topologyLayers } from './sweep-cell.js';
import { type Values, describeValues } from '../capture/search-space.js';

export interface VariantSource {
  base: Captured;
  /** The notebook's model cell, which runs again for `hp` parameters. */
  modelCell?: RoleCell;
  notebookDir: string;
}

/** Builds each trial's model once per distinct model settings; trials that differ only in training share it. */
export class Variants {
  private readonly models = new Map<string, Promise<ModelSpec>>();

  constructor(
    private readonly source: VariantSource,
    private readonly definition: SweepDefinition,
  ) {}

  /** The trial's job, to train `epochs` epochs in all. */
  async trial(values: Values, epochs: number): Promise<Captured> {
    const { base } = this.source;
    const where = `The sweep's trial with ${describeValues(values)}`;
    const overrides: Partial<TrainingConfig> = { epochs };
    const modelValues: Values = {};
    for (const p of this.definition.params) {
      if (p.target.kind === 'training') Object.assign(overrides, { [p.target.field]: values[p.name] });
      else modelValues[p.name] = values[p.name]!;
    }
    const training = trainingConfig(undefined, overrides, base.spec.training);
    const key = JSON.stringify(modelValues);
    if (!this.models.has(key)) this.models.set(key, this.model(modelValues, where));
    const model = await this.models.get(key)!;
    const captured: Captured = { spec: { ...base.spec, model, training }, dataset: base.dataset };
    try {
      validateRunShape(captured, undefined);
    } catch (err) {
      throw isSmltError(err) ? new SmltError('SWEEP_INVALID', `${where}: ${err.message}`, { cause: err }) : err;
    }
    return captured;
  }

  private async model(values: Values, where: string): Promise<ModelSpec> {
    const { base, modelCell, notebookDir } = this.source;
    if (Object.keys(values).length === 0) return base.spec.model;
    const params = this.definition.params;
    const hp = Object.fromEntries(params.filter((p) => p.target.kind === 'hp').map((p) => [p.name, values[p.name]!]));
    try {
      let model = base.spec.model;
      if (Object.keys(hp).length > 0) {
        if (!modelCell) throw new SmltError('SWEEP_INVALID', `${where}: hp parameters need the notebook's tfjs model cell.`);
        model = (await captureModel(modelCell, { notebookDir, hp })).model;
      }
      const layerParams = params.filter((p) => p.target.kind === 'layer');
      if (layerParams.length > 0) {
        const topology = structuredClone(model.topology);
        for (const p of layerParams) {
          const { layer, key } = p.target as { layer: string; key: string };
          const found = topologyLayers(topology).find((l) => l.config.name === layer);
          if (found) found.config[key] = values[p.name];
        }
        const cell: RoleCell = { role: 'model', index: base.spec.origin.cells.model, source: JSON.stringify(topology), firstLine: 1, label: where };
        model = (await captureModel(cell, { notebookDir })).model;
      }
      model = { ...model, origin: base.spec.model.origin };
      const same = (a: number[], b: number[]) => a.length === b.length && a.every((d, i) => d === b[i]);
      if (!same(model.inputShape, base.spec.model.inputShape) || !same(model.outputShape, base.spec.model.outputShape)) {
        throw new SmltError(
          'SWEEP_INVALID',
          `${where}: the model's input or output shape changes (${JSON.stringify(model.inputShape)} → ${JSON.stringify(model.outputShape)}, ` +
            `the notebook's ${JSON.stringify(base.spec.model.inputShape)} → ${JSON.stringify(base.spec.model.outputShape)}); a sweep varies the model inside, not its data.`,
        );
      }
      return model;
    } catch (err) {
      if (!isSmltError(err)) throw err;
      if (err.code === 'SWEEP_INVALID') throw err;
      throw new SmltError('SWEEP_INVALID', err.message.startsWith(where) ? err.message : `${where}: ${err.message}`, { cause: err });
    }
  }
}
