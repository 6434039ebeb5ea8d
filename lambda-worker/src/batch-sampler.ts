import * as tf from '@tensorflow/tfjs-core';
import type { Dataset } from '@smlt/shared/data/dataset';

/** Cuts a worker's partition into its per-iteration mini-batches, in the epoch's order. */
export class BatchSampler {
  private readonly xSize: number;
  private readonly ySize: number;

  constructor(
    private readonly data: Dataset,
    private readonly order: Uint32Array,
    private readonly batchSize: number,
  ) {
    this.xSize = data.xShape.reduce((a, b) => a * b, 1);
    this.ySize = data.yShape.reduce((a, b) => a * b, 1);
  }

  get iterations(): number {
    return Math.floor(this.order.length / this.batchSize);
  }

  /** Tensors for iteration `i`; the caller disposes them. */
  batch(i: number): { x: tf.Tensor; y: tf.Tensor } {
    const x = new Float32Array(this.batchSize * this.xSize);
    const y = new Float32Array(this.batchSize * this.ySize);
    for (let j = 0; j < this.batchSize; j++) {
      const sample = this.order[i * this.batchSize + j];
      x.set(this.data.x.subarray(sample * this.xSize, (sample + 1) * this.xSize), j * this.xSize);
      y.set(this.data.y.subarray(sample * this.ySize, (sample + 1) * this.ySize), j * this.ySize);
    }
    return {
      x: tf.tensor(x, [this.batchSize, ...this.data.xShape]),
      y: tf.tensor(y, [this.batchSize, ...this.data.yShape]),
    };
  }
}
