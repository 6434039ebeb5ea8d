/**
 * Which tfjs backend a run's workers compute with, decided once before launch from measurements
 * in this process. The host backend (native, else wasm, else cpu; or `SMLT_BACKEND`) is always
 * probed. WebGPU is probed too when it was asked for (`SMLT_BACKEND=webgpu`, any adapter) or
 * when a real (not software) adapter is present; it is chosen when asked for, or when its
 * measured step is faster — and never when the model's tensors cannot fit the adapter. The
 * choice comes with its one-sentence reason, and its profile is built from what was measured.
 */
import type { Captured } from '../capture/capture.js';
import { memoryFootprint } from '../sizing/memory.js';
import { type BackendProfile, profileOfBackend, webgpuProfile } from '../sizing/profiles.js';
import { type BackendName, backendInfo, initBackend, requestedBackend } from '../tf/backend.js';
import { adapterLabel, detectGpu } from '../tf/webgpu.js';
import { type Probe, probeGradientStep } from './step-probe.js';

export interface BackendChoice {
  name: BackendName;
  /** Sent to every worker (local runs); unset, each worker takes its platform's own (Lambda has no GPU). */
  pinned: boolean;
  reason: string;
  profile: BackendProfile;
}

/** ms of one step at the probe's larger batch. */
const stepMsAt = (probe: Probe, batch: number) => probe.stepMs + probe.computeMsPerSample * batch;

/**
 * Probes the step on the host backend and, where WebGPU may be used, on the adapter; returns the
 * choice and the probe of the chosen backend (the planner's speed input). The process is left on
 * the host backend: the orchestrator's own work (checkpoints, held-out metrics) does not need a GPU.
 */
export async function chooseBackend(captured: Captured, batch: number, platform: { name: string }): Promise<{ choice: BackendChoice; probe: Probe }> {
  const asked = requestedBackend();
  const host = asked && asked !== 'webgpu' ? asked : 'native';
  const hostProbe = await probeGradientStep(captured, batch, host);
  const info = backendInfo();
  const hostName = info.name === 'webgpu' ? 'wasm' : info.name;
  const hostLabel = hostName === 'wasm' ? `wasm${info.simd ? ' with SIMD' : ''}` : hostName;
  const local = platform.name === 'local';
  const onHost = (why: string) => ({
    choice: { name: hostName, pinned: local, reason: `${hostLabel}: ${why}`, profile: profileOfBackend(hostName, { simd: info.simd }) },
    probe: hostProbe,
  });

  if (!local) return onHost(asked === 'webgpu' ? `${platform.name} workers have no GPU (SMLT_BACKEND=webgpu applies to local runs)` : `what ${platform.name} workers run`);
  const gpu = await detectGpu();
  if ('reason' in gpu) return onHost(asked === 'webgpu' ? `SMLT_BACKEND=webgpu, but ${gpu.reason}` : asked ? `SMLT_BACKEND=${asked}` : 'the default (no WebGPU adapter here)');
  const { adapter } = gpu;
  if (asked !== 'webgpu' && (asked !== undefined || adapter.software)) {
    return onHost(asked ? `SMLT_BACKEND=${asked}` : `the default (the WebGPU adapter here, ${adapter.description}, is software: used only with SMLT_BACKEND=webgpu)`);
  }

  // The model's tensors must fit the adapter's binding limit at the smallest per-worker batch.
  const { spec } = captured;
  const largest = hostProbe.largestTensor;
  const limitMb = adapter.maxBindingBytes / 2 ** 20;
  const largestMb = (4 * Math.max(largest.weightValues, largest.activationValuesPerSample)) / 2 ** 20;
  if (largestMb > limitMb) {
    return onHost(`the model's largest tensor (${largestMb.toFixed(0)} MB) is larger than ${adapter.description} can bind (${limitMb.toFixed(0)} MB)`);
  }

  const rssBefore = process.memoryUsage().rss;
  const gpuProbe = await probeGradientStep(captured, batch, 'webgpu').catch((err: unknown) => err as Error);
  const runtimeGrowthMb = Math.max(0, (process.memoryUsage().rss - rssBefore) / 2 ** 20);
  await initBackend(host);
  if (gpuProbe instanceof Error) return onHost(`the webgpu step failed on ${adapter.description} (${gpuProbe.message})`);
  if (backendInfo().name !== hostName) await initBackend(hostName);

  const high = Math.max(1, Math.min(batch, captured.dataset.count));
  const speed = stepMsAt(hostProbe, high) / Math.max(stepMsAt(gpuProbe, high), 1e-6);
  const tensorBytes = memoryFootprint({
    model: { paramCount: spec.model.paramCount, optimizer: spec.training.optimizer, bytesPerSample: 0 },
    profile: { ...profileOfBackend('wasm'), tensorOverhead: 1 },
    workers: 1,
    perWorkerBatch: high,
    partitionSamples: 0,
    sync: 'hierarchical',
  });
  const countedMb = tensorBytes.weightsMb + tensorBytes.gradientsMb + tensorBytes.optimizerSlotsMb + tensorBytes.activationsMb;
  const profile = webgpuProfile({
    adapter,
    relativeSpeed: speed,
    runtimeGrowthMb,
    tensorOverhead: Math.max(1, (gpuProbe.deviceBytes ?? 0) / 2 ** 20 / Math.max(countedMb, 1e-6)),
  });
  const measured = `its step ran at ${speed.toFixed(2)}x the speed of ${hostLabel} (batch ${high}, measured here)`;
  const onGpu = (why: string) => ({ choice: { name: 'webgpu' as const, pinned: true, reason: `webgpu on ${adapterLabel(adapter)}: ${why}`, profile }, probe: gpuProbe });
  if (asked === 'webgpu') return onGpu(`SMLT_BACKEND=webgpu; ${measured}`);
  if (speed > 1) return onGpu(measured);
  return onHost(`webgpu on ${adapterLabel(adapter)} was slower: ${measured}`);
}
