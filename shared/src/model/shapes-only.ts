/**
 * Building a model's graph without its weights: inside `withoutWeights`, every layer's
 * `addWeight` records the weight's shape and allocates nothing, so a topology asking for
 * billions of parameters is counted (and refused) in milliseconds instead of exhausting memory.
 * Capture uses it to read a model's shapes and size; workers and probes build real weights.
 *
 * The switch is an AsyncLocalStorage, so a real build running concurrently in the same process
 * (another request of `smlt serve`) is never affected.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import * as tfl from '@tensorflow/tfjs-layers';

const shapesOnly = new AsyncLocalStorage<true>();
let patched = false;

/** Runs `build` (sync or async) with weights recorded by shape only. Use the model for its graph and `countParams()`, never to compute. */
export function withoutWeights<T>(build: () => T): T {
  patchAddWeight();
  return shapesOnly.run(true, build);
}

/** A weight as `countParams`, `toJSON` and `dispose` see it; reading its value fails clearly. */
function shapeOnlyWeight(name: string, shape: number[], dtype: string, trainable: boolean) {
  const fail = () => {
    throw new Error(`The weight ${name} was built without a value (shapes only) and cannot be read.`);
  };
  return { name, originalName: name, shape, dtype, trainable, id: -1, read: fail, write: fail, dispose: () => {} };
}

type AddWeight = (this: LayerInternals, name: string, shape: number[], dtype?: string, ...rest: unknown[]) => unknown;
interface LayerInternals {
  _addedWeightNames: string[];
  _trainableWeights: unknown[];
  _nonTrainableWeights: unknown[];
  name: string;
}

function patchAddWeight(): void {
  if (patched) return;
  const prototype = tfl.layers.Layer.prototype as unknown as { addWeight: AddWeight };
  const original = prototype.addWeight;
  prototype.addWeight = function (this: LayerInternals, name, shape, dtype, ...rest) {
    if (!shapesOnly.getStore()) return original.call(this, name, shape, dtype, ...rest);
    if (this._addedWeightNames.includes(name)) throw new Error(`Duplicate weight name ${name} for layer ${this.name}`);
    this._addedWeightNames.push(name);
    // addWeight(name, shape, dtype, initializer, regularizer, trainable, ...): trainable is the 6th.
    const trainable = rest[2] !== false;
    const weight = shapeOnlyWeight(name, shape, dtype ?? 'float32', trainable);
    (trainable ? this._trainableWeights : this._nonTrainableWeights).push(weight);
    return weight;
  };
  patched = true;
}
