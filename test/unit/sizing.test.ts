/** Backend-aware memory sizing: footprints worked out by hand, and which sizes each profile can use. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  activationBytesFromLayerOutputs,
  memoryFootprint,
  optimizerSlots,
  syncBufferParams,
  usefulMemorySizesMb,
} from '@smlt/shared/sizing/memory';
import { BACKEND_PROFILES, computeSpeedup, profileOfBackend, vcpusOf, webgpuProfile } from '@smlt/shared/sizing/profiles';
import type { GpuAdapterReport } from '@smlt/shared/tf/webgpu';

const MB = 1024 * 1024;
const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-6, `${what}: ${a} vs ${b}`);

const model = { paramCount: 1_000_000, optimizer: 'adam' as const, bytesPerSample: 1000, activationBytesPerSample: 100_000 };

/** Profiles as the backend choice builds them from a probe: a real GPU's adapter, and lavapipe's. */
const GPU_ADAPTER: GpuAdapterReport = { vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H100', software: false, maxBufferBytes: 2 ** 34, maxBindingBytes: 2 ** 31 };
const gpuProfile = webgpuProfile({ adapter: GPU_ADAPTER, relativeSpeed: 8, runtimeGrowthMb: 150, tensorOverhead: 1.5 });
const lavapipe = webgpuProfile({
  adapter: { vendor: 'mesa', architecture: 'software', description: 'llvmpipe', software: true, maxBufferBytes: 2 ** 32 - 1, maxBindingBytes: 2 ** 27 },
  relativeSpeed: 0.3,
  runtimeGrowthMb: 120,
  tensorOverhead: 2,
});

describe('memory footprint', () => {
  it('adds weights, gradients, optimizer slots, shard buffers, activations, runtime and data (wasm-simd, by hand)', () => {
    const f = memoryFootprint({ model, profile: BACKEND_PROFILES['wasm-simd'], workers: 4, perWorkerBatch: 10, partitionSamples: 1000, sync: 'hierarchical' });
    const paramMb = 4e6 / MB;
    // wasm-simd: tensors cost 4.5x their bytes and the runtime 100 MB (fitted to measured RSS,
    // test/fixtures/sizing/measured-rss.json); the cached partition is held twice at its peak.
    close(f.weightsMb, paramMb * 4.5, 'weights');
    close(f.gradientsMb, paramMb * 4.5, 'gradients');
    close(f.optimizerSlotsMb, 2 * paramMb * 4.5, 'adam slots');
    close(f.shardBuffersMb, paramMb * (2 * (3 / 4) + 1), 'shard buffers');
    close(f.activationsMb, (1e6 / MB) * 4.5, 'activations');
    close(f.cachedDataMb, 2e6 / MB, 'data');
    close(f.hostMb, 100 + f.cachedDataMb + f.shardBuffersMb + f.weightsMb + f.gradientsMb + f.optimizerSlotsMb + f.activationsMb, 'total');
    assert.ok(Math.abs(f.hostMb - 184.4) < 0.01, `total ${f.hostMb}`);
    assert.equal(f.minimumMemoryMb, 192);
    assert.equal(f.gpuMb, 0);
  });

  it('counts tensors as GPU buffers on a real GPU, and says when a tensor or the whole does not fit the device', () => {
    const f = memoryFootprint({ model, profile: gpuProfile, workers: 1, perWorkerBatch: 10, partitionSamples: 1000, sync: 'hierarchical' });
    const paramMb = 4e6 / MB;
    close(f.gpuMb, paramMb * 1.5 * 4 + (1e6 / MB) * 1.5, 'gpu buffers: weights, gradients, 2 adam slots, activations');
    close(f.hostMb, 100 + 150 + 2e6 / MB + paramMb * 1 + 2 * paramMb, 'host: wasm runtime + Dawn, data, exchange, staging');
    assert.equal(f.fitsDevice, true);
    // A 600-million-value weight (2.4 GB) cannot be bound by a shader limited to 2 GiB.
    const wide = memoryFootprint({ model: { ...model, largestTensor: { weightValues: 6e8, activationValuesPerSample: 10 } }, profile: gpuProfile, workers: 1, perWorkerBatch: 1, partitionSamples: 1, sync: 'flat' });
    assert.equal(wide.fitsDevice, false);
    close(wide.largestTensorMb, (4 * 6e8) / MB, 'largest tensor');
    // Activations grow with the batch: more workers (smaller batches each) fit where one does not.
    const activations = { ...model, largestTensor: { weightValues: 10, activationValuesPerSample: 3e6 } };
    const at = (batch: number) => memoryFootprint({ model: activations, profile: gpuProfile, workers: 1, perWorkerBatch: batch, partitionSamples: 1, sync: 'flat' }).fitsDevice;
    assert.deepEqual([at(64), at(256)], [true, false]);
    // The device's memory is checked only when someone knows it (WebGPU does not report it).
    const small = { ...gpuProfile, gpu: { ...gpuProfile.gpu!, memoryMb: 10 } };
    assert.equal(memoryFootprint({ model, profile: small, workers: 1, perWorkerBatch: 10, partitionSamples: 1000, sync: 'hierarchical' }).fitsDevice, false);
  });

  it("keeps a software adapter's tensors in the worker's own memory, under the adapter's binding limit", () => {
    const f = memoryFootprint({ model, profile: lavapipe, workers: 1, perWorkerBatch: 10, partitionSamples: 1000, sync: 'hierarchical' });
    const paramMb = 4e6 / MB;
    assert.equal(f.gpuMb, 0);
    close(f.hostMb, 100 + 120 + 2e6 / MB + paramMb + 2 * (4 * paramMb + (1e6 / MB)), 'host: runtime, data, exchange, tensors x2');
    assert.equal(memoryFootprint({ model: { ...model, largestTensor: { weightValues: 5e7, activationValuesPerSample: 1 } }, profile: lavapipe, workers: 1, perWorkerBatch: 1, partitionSamples: 1, sync: 'flat' }).fitsDevice, false);
  });

  it('makes a flat aggregator hold every gradient, a hierarchical one under 3', () => {
    assert.equal(syncBufferParams('flat', 10), 10);
    assert.ok(syncBufferParams('hierarchical', 200) < 3);
    assert.equal(syncBufferParams('hierarchical', 1), 1);
    assert.deepEqual(['sgd', 'momentum', 'adagrad', 'rmsprop', 'adam'].map((o) => optimizerSlots(o as never)), [0, 1, 1, 2, 2]);
    assert.equal(activationBytesFromLayerOutputs([100, 50]), 2 * 4 * 150);
  });
});

describe('speed and useful memory sizes per profile', () => {
  it('gives one vCPU per 1,769 MB; a single-threaded backend gains nothing above it, native follows Amdahl', () => {
    close(vcpusOf(1769), 1, 'vcpus');
    close(vcpusOf(10_240), 10_240 / 1769, 'max vcpus');
    close(computeSpeedup(BACKEND_PROFILES['wasm-simd'], 884.5), 0.5, 'half a vCPU');
    close(computeSpeedup(BACKEND_PROFILES['wasm-simd'], 3538), 1, 'wasm above one vCPU');
    close(computeSpeedup(BACKEND_PROFILES.cpu, 10_240), 1, 'cpu above one vCPU');
    close(computeSpeedup(BACKEND_PROFILES.native, 3538), 1 / (0.1 + 0.9 / 2), 'native at 2 vCPU');
    close(computeSpeedup(gpuProfile, 512), 1, 'a real GPU ignores memory');
    close(computeSpeedup(lavapipe, 884.5), 0.5, 'a software adapter slows with its vCPU share');
    assert.equal(profileOfBackend('wasm', { simd: false }).relativeSpeed, 0.5);
    assert.equal(profileOfBackend('native').name, 'native');
  });

  it('proposes fractions of a vCPU up to 1,769 MB for wasm, vCPU tiers for native, the minimum for webgpu', () => {
    assert.deepEqual(usefulMemorySizesMb(BACKEND_PROFILES['wasm-simd'], 170, [128, 10_240]), [192, 512, 1024, 1536, 1769]);
    assert.deepEqual(usefulMemorySizesMb(BACKEND_PROFILES.native, 170, [128, 10_240]), [192, 512, 1024, 1536, 1769, 3538, 5307, 7076, 8845, 10_240]);
    assert.deepEqual(usefulMemorySizesMb(gpuProfile, 170, [128, 10_240]), [192]);
    // A worker that needs more than one vCPU's memory on a single-threaded backend: its minimum only.
    assert.deepEqual(usefulMemorySizesMb(BACKEND_PROFILES['wasm-simd'], 3000, [128, 10_240]), [3008]);
    assert.deepEqual(usefulMemorySizesMb(BACKEND_PROFILES.native, 9000, [128, 10_240]), [9024, 10_240]);
    assert.deepEqual(usefulMemorySizesMb(BACKEND_PROFILES.native, 12_000, [128, 10_240]), []);
    assert.deepEqual(usefulMemorySizesMb(BACKEND_PROFILES.native, 170, [128, 3008]), [192, 512, 1024, 1536, 1769]);
  });
});
