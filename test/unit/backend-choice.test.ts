/**
 * When a run's workers stay on the host backend without measuring WebGPU (service/backend-choice.ts):
 * the rules a real GPU would meet, checked here with adapters as Dawn describes them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { reasonToStayOnHost } from '@smlt/shared/service/backend-choice';
import type { GpuAdapterReport } from '@smlt/shared/tf/webgpu';

const H100: GpuAdapterReport = { vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H100', software: false, maxBufferBytes: 2 ** 34, maxBindingBytes: 2 ** 31 };
const LAVAPIPE: GpuAdapterReport = { vendor: 'mesa', architecture: 'software', description: 'llvmpipe', software: true, maxBufferBytes: 2 ** 32 - 1, maxBindingBytes: 2 ** 27 };
const small = { weightValues: 100_352, activationValuesPerSample: 784 };
const facts = (over: Partial<Parameters<typeof reasonToStayOnHost>[0]>) =>
  reasonToStayOnHost({ asked: undefined, platform: 'local', gpu: { adapter: H100 }, largestTensor: small, ...over });

describe('whether WebGPU is measured for a run', () => {
  it('measures a real adapter by default, and any adapter when SMLT_BACKEND=webgpu asks', () => {
    assert.equal(facts({}), undefined);
    assert.equal(facts({ asked: 'webgpu', gpu: { adapter: LAVAPIPE } }), undefined);
  });

  it('keeps a software adapter out unless asked, and says which adapter it was', () => {
    assert.match(facts({ gpu: { adapter: LAVAPIPE } }) ?? '', /llvmpipe, is software: used only with SMLT_BACKEND=webgpu/);
  });

  it('follows another SMLT_BACKEND, and says when there is no adapter', () => {
    assert.equal(facts({ asked: 'wasm' }), 'SMLT_BACKEND=wasm');
    assert.equal(facts({ gpu: { reason: 'no driver' } }), 'the default (no WebGPU adapter here)');
    assert.equal(facts({ asked: 'webgpu', gpu: { reason: 'no driver' } }), 'SMLT_BACKEND=webgpu, but no driver');
  });

  it('never puts Lambda workers on a GPU', () => {
    assert.match(facts({ platform: 'aws-lambda', asked: 'webgpu' }) ?? '', /aws-lambda workers have no GPU/);
    assert.equal(facts({ platform: 'aws-lambda' }), 'what aws-lambda workers run');
  });

  it('refuses a model whose weight or one-sample activation passes the binding limit, naming both sizes', () => {
    // 40 M float32 values (an embedding of 1 M words × 40) = 153 MB; lavapipe binds 128 MB.
    const embedding = { weightValues: 40_000_000, activationValuesPerSample: 200 };
    assert.equal(
      facts({ asked: 'webgpu', gpu: { adapter: LAVAPIPE }, largestTensor: embedding }),
      "the model's largest tensor (153 MB) is larger than llvmpipe can bind (128 MB)",
    );
    assert.equal(facts({ largestTensor: embedding }), undefined, 'the H100 binds 2 GiB');
    assert.match(facts({ largestTensor: { weightValues: 1, activationValuesPerSample: 6e8 } }) ?? '', /2289 MB\) is larger than NVIDIA H100 can bind \(2048 MB\)/);
  });
});
