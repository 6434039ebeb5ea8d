/**
 * Which tfjs backend a run's workers compute with, decided once before launch from measurements
 * in this process. The host backend (native, else wasm, else cpu; or `SMLT_BACKEND`) is always
 * probed. WebGPU is probed too when it was asked for (`SMLT_BACKEND=webgpu`, any adapter) or
 * when a real (not software) adapter is present; it is chosen when asked for, or when its
 * measured step is faster — and never when the model's tensors cannot fit the adapter. The
 * choice comes with its one-sentence reason, and its profile is built from what was measured.
 */
import type { Captured } from '../capture/capture.js';
import { memoryFootprint, sampleBytes } from '../sizing/memory.js';
import { type BackendProfile, profileOfBackend, webgpuProfile } from '../sizing/profiles.js';
import { type BackendName, backendInfo, initBackend, requestedBackend } from '../tf/backend.js';
import { adapterLabel, detectGpu, type GpuProbe } from '../tf/webgpu.js';
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
  // The fallback chain from a host preference never holds webgpu (tf/backend.ts).
  const hostName = info.name as Exclude<BackendName, 'webgpu'>;
  const hostLabel = hostName === 'wasm' ? `wasm${info.simd ? ' with SIMD' : ''}` : hostName;
  const local = platform.name === 'local';
  const onHost = (why: string) => ({
    choice: { name: hostName, pinned: local, reason: `${hostLabel}: ${why}`, profile: profileOfBackend(hostName, { simd: info.simd }) },
    probe: hostProbe,
  });

  const gpu = local ? await detectGpu() : { reason: 'not a local run' };
  const stay = reasonToStayOnHost({ asked, platform: platform.name, gpu, largestTensor: hostProbe.largestTensor });
  if (stay !== undefined || !('adapter' in gpu)) return onHost(stay ?? 'no WebGPU adapter');
  const { adapter } = gpu;
  const { spec } = captured;

  const rssBefore = process.memoryUsage().rss;
  const gpuProbe = await probeGradientStep(captured, batch, 'webgpu').catch((err: unknown) => err as Error);
  const runtimeGrowthMb = Math.max(0, (process.memoryUsage().rss - rssBefore) / 2 ** 20);
  await initBackend(hostName);
  if (gpuProbe instanceof Error) return onHost(`the webgpu step failed on ${adapter.description} (${gpuProbe.message})`);

  const high = Math.max(1, Math.min(batch, captured.dataset.count));
  const speed = stepMsAt(hostProbe, high) / Math.max(stepMsAt(gpuProbe, high), 1e-6);
  // The tensor bytes sizing counts at the probe's batch (an overhead of 1), against what tfjs allocated on the device.
  const counted = memoryFootprint({
    model: { paramCount: spec.model.paramCount, optimizer: spec.training.optimizer, bytesPerSample: sampleBytes(spec.data.xShape, spec.data.yShape) },
    profile: { ...profileOfBackend('wasm'), tensorOverhead: 1 },
    workers: 1,
    perWorkerBatch: high,
    partitionSamples: 0,
    sync: 'hierarchical',
  });
  const countedMb = counted.weightsMb + counted.gradientsMb + counted.optimizerSlotsMb + counted.activationsMb;
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

/**
 * Why the workers stay on the host backend before WebGPU is even measured, or undefined when it
 * is worth measuring: asked for (any adapter), or a real adapter with the default asked for, and
 * the model's largest tensor (a weight, or one sample's layer output) within its binding limit.
 */
export function reasonToStayOnHost(facts: {
  asked: BackendName | undefined;
  platform: string;
  gpu: GpuProbe;
  largestTensor: { weightValues: number; activationValuesPerSample: number };
}): string | undefined {
  const { asked, platform, gpu } = facts;
  if (platform !== 'local') return asked === 'webgpu' ? `${platform} workers have no GPU (SMLT_BACKEND=webgpu applies to local runs)` : `what ${platform} workers run`;
  if (asked && asked !== 'webgpu') return `SMLT_BACKEND=${asked}`;
  if (!('adapter' in gpu)) return asked ? `SMLT_BACKEND=webgpu, but ${gpu.reason}` : 'the default (no WebGPU adapter here)';
  const { adapter } = gpu;
  if (!asked && adapter.software) return `the default (the WebGPU adapter here, ${adapter.description}, is software: used only with SMLT_BACKEND=webgpu)`;
  const { weightValues, activationValuesPerSample } = facts.largestTensor;
  const largestMb = (4 * Math.max(weightValues, activationValuesPerSample)) / 2 ** 20;
  const limitMb = adapter.maxBindingBytes / 2 ** 20;
  if (largestMb > limitMb) return `the model's largest tensor (${largestMb.toFixed(0)} MB) is larger than ${adapter.description} can bind (${limitMb.toFixed(0)} MB)`;
  return undefined;
}
