/**
 * A dataset in memory: `count` samples, features `x` (row-major, `xShape` per sample) and
 * targets `y` (`yShape` per sample, already encoded for the loss: one-hot for categorical
 * cross-entropy, class index for sparse, raw values for regression).
 */
export interface Dataset {
  count: number;
  xShape: number[];
  yShape: number[];
  x: Float32Array;
  y: Float32Array;
  /** Class names, index = class id, when labels are categorical. */
  classes?: string[];
}
