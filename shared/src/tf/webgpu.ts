/**
 * WebGPU in Node: Dawn's binding (npm `webgpu`) gives `navigator.gpu`, which tfjs' webgpu backend
 * needs before it is imported. This module finds the adapter once, says what it is (vendor,
 * architecture, description, whether it is a software rasterizer) and what it can hold (its
 * buffer limits), so the registry can refuse a software adapter unless asked and sizing can check
 * a model's tensors against the device.
 */
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { errorMessage } from '../errors.js';

export interface GpuAdapterReport {
  vendor: string;
  architecture: string;
  description: string;
  /** A CPU standing in for a GPU (Mesa's lavapipe/llvmpipe, SwiftShader): right, never fast. */
  software: boolean;
  /** The largest buffer the device can create, bytes. */
  maxBufferBytes: number;
  /** The largest buffer one shader can bind, bytes: every tensor of a step must fit one binding. */
  maxBindingBytes: number;
}

/** The adapter, or why there is none. */
export type GpuProbe = { adapter: GpuAdapterReport } | { reason: string };

let probed: Promise<GpuProbe> | undefined;
let detected: Promise<GpuProbe> | undefined;

/** Loads Dawn, installs `navigator.gpu` and asks for an adapter; once per process. */
export function probeGpu(): Promise<GpuProbe> {
  probed ??= requestAdapter();
  return probed;
}

/**
 * What adapter there is, asked in a short child process (once per process): Dawn writes its
 * drivers' warnings straight to file descriptor 2, and a run that only looks for a GPU must not
 * print them. The backend itself (probeGpu) loads Dawn in the process that computes.
 */
export function detectGpu(): Promise<GpuProbe> {
  detected ??= probed ?? askChild();
  return detected;
}

/** The child's script: the adapter's fields this module reads, as JSON, or null. */
const CHILD_SCRIPT = `
const { create } = await import(process.argv[1]);
const adapter = await create([]).requestAdapter({ powerPreference: 'high-performance' });
const pick = (o, keys) => Object.fromEntries(keys.map((k) => [k, o[k]]));
process.stdout.write(JSON.stringify(adapter && {
  info: pick(adapter.info, ['vendor', 'architecture', 'description', 'device', 'isFallbackAdapter']),
  limits: pick(adapter.limits, ['maxBufferSize', 'maxStorageBufferBindingSize']),
}));
process.exit(0);
`;

async function askChild(): Promise<GpuProbe> {
  let entry: string;
  try {
    entry = pathToFileURL(createRequire(import.meta.url).resolve('webgpu')).href;
  } catch (err) {
    return { reason: `the npm package webgpu (Dawn) is not installed (${errorMessage(err)})` };
  }
  try {
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', CHILD_SCRIPT, entry], { timeout: 20_000 });
    const adapter = JSON.parse(stdout) as Adapter | null;
    return adapter ? { adapter: describe(adapter) } : { reason: NO_ADAPTER };
  } catch (err) {
    return { reason: `Dawn could not open a GPU (${errorMessage(err).split('\n')[0]})` };
  }
}

const NO_ADAPTER =
  'Dawn found no WebGPU adapter: no GPU with a Vulkan driver (on Debian, a software one: ' +
  "`apt-get install -t bookworm-backports mesa-vulkan-drivers`; bookworm's own Mesa 22 is refused)";

/** What this module reads of Dawn's WebGPU objects (the W3C names; @webgpu/types has them all). */
interface Adapter {
  info: { vendor: string; architecture: string; description: string; device: string; isFallbackAdapter?: boolean };
  limits: { maxBufferSize: number; maxStorageBufferBindingSize: number };
}
interface Gpu {
  requestAdapter(options?: { powerPreference?: 'high-performance' | 'low-power' }): Promise<Adapter | null>;
}
interface DawnModule {
  create(flags: string[]): Gpu;
  globals: Record<string, unknown>;
}

async function requestAdapter(): Promise<GpuProbe> {
  // A variable specifier keeps bundlers (the Lambda zip, the editor extensions) from pulling in
  // Dawn's 130 MB of binaries: there is no GPU on Lambda.
  const specifier = 'webgpu';
  let dawn: DawnModule;
  try {
    dawn = (await import(specifier)) as DawnModule;
  } catch (err) {
    return { reason: `the npm package ${specifier} (Dawn) is not installed or failed to load (${errorMessage(err)})` };
  }
  let gpu: Gpu;
  let adapter: Adapter | null;
  try {
    // tfjs reads GPUBufferUsage and friends as globals, as in a browser.
    for (const [name, value] of Object.entries(dawn.globals)) if (!(name in globalThis)) Object.assign(globalThis, { [name]: value });
    gpu = dawn.create([]);
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (err) {
    return { reason: `Dawn could not open a GPU (${errorMessage(err)})` };
  }
  if (!adapter) return { reason: NO_ADAPTER };
  // tfjs' webgpu backend looks for the GPU where a browser has it.
  const nav = (globalThis as { navigator?: object }).navigator;
  if (!nav || !('gpu' in nav)) Object.defineProperty(globalThis, 'navigator', { value: { ...(nav ?? {}), gpu }, configurable: true, writable: true });
  return { adapter: describe(adapter) };
}

function describe(adapter: Adapter): GpuAdapterReport {
  const info = adapter.info;
  const architecture = info.architecture || 'unknown';
  const description = info.description || info.device || 'unnamed adapter';
  const software = info.isFallbackAdapter === true || architecture === 'software' || /llvmpipe|lavapipe|swiftshader/i.test(description);
  return {
    vendor: info.vendor || 'unknown',
    architecture,
    description,
    software,
    maxBufferBytes: adapter.limits.maxBufferSize,
    maxBindingBytes: adapter.limits.maxStorageBufferBindingSize,
  };
}

/** The adapter for a person: "NVIDIA H100 (nvidia hopper)", "llvmpipe: Mesa 25.0.7 … (a software adapter)". */
export function adapterLabel(adapter: GpuAdapterReport): string {
  return `${adapter.description} (${adapter.software ? 'a software adapter' : `${adapter.vendor} ${adapter.architecture}`})`;
}
