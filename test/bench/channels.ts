/**
 * S3 vs a Redis channel for gradient exchange, in the calibrated simulator (shared/src/sim, not
 * AWS): a ResNet-18-sized job (11.7 M parameters, 47 MB gradients) at 100 workers, time and cost
 * of one warm epoch on each channel and strategy (median over seeds), then which channel, worker
 * count and memory the planner picks for the whole job under a deadline.
 *
 *   node --import tsx test/bench/channels.ts [--seeds 20] [--workers 100] [--memory 3008]
 */
import { parseArgs } from 'node:util';
import { DEFAULT_SIM_PARAMS, REDIS_SIM_PARAMS, type SimParams, SimulatedCloud } from '@smlt/shared/sim/cloud';
import { plannerOptionsFor } from '@smlt/shared/sim/run';
import { WORKLOADS } from '@smlt/shared/sim/workloads';
import { chooseChannel } from '@smlt/shared/scheduler/channel-choice';
import type { SyncName } from '@smlt/shared/run/events';

const CHANNELS: Array<{ name: string; params: SimParams }> = [
  { name: 'S3', params: DEFAULT_SIM_PARAMS },
  { name: 'Redis, one node (600 MB/s)', params: REDIS_SIM_PARAMS },
  // No calibrated figure exists for a sharded or serverless cache's aggregate bandwidth: an assumption.
  { name: 'Redis, 10 shards (6 GB/s, assumed)', params: { ...REDIS_SIM_PARAMS, channel: { ...REDIS_SIM_PARAMS.channel!, serverBytesPerS: 6e9 } } },
];

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { seeds: { type: 'string', default: '20' }, workers: { type: 'string', default: '100' }, memory: { type: 'string', default: '3008' } },
  });
  const seeds = Number(values.seeds);
  const workers = Number(values.workers);
  const memoryMb = Number(values.memory);
  const workload = WORKLOADS['resnet18-native']!;
  console.log(`${workload.description}; ${workers} workers × ${memoryMb} MB; one warm epoch (the second), median of ${seeds} seeds`);
  const rows: string[][] = [];
  const byChannel = new Map<string, { timeS: number; costUsd: number }>();
  for (const { name, params } of CHANNELS) {
    for (const sync of ['hierarchical', 'flat'] as SyncName[]) {
      const epochs = Array.from({ length: seeds }, (_, seed) => {
        const cloud = new SimulatedCloud(workload, seed + 1, { ...params, driftProbability: 0 });
        cloud.runEpoch(0, { workers, memoryMb, sync });
        return cloud.runEpoch(1, { workers, memoryMb, sync });
      });
      if (epochs.some((e) => e.outOfMemory)) {
        rows.push([name, sync, `out of memory at ${memoryMb} MB`, '—', '—']);
        continue;
      }
      const timeS = median(epochs.map((e) => e.durationS));
      const costUsd = median(epochs.map((e) => e.costUsd));
      const perIteration = timeS / epochs[0]!.iterations;
      if (!byChannel.has(name) || byChannel.get(name)!.timeS > timeS) byChannel.set(name, { timeS, costUsd });
      rows.push([name, sync, timeS.toFixed(1), (perIteration * 1000).toFixed(0), `$${costUsd.toFixed(3)}`]);
    }
  }
  console.log(table(['channel', 'sync', 'epoch s', 'ms / iteration', 'cost / epoch'], rows));
  const s3 = byChannel.get('S3')!;
  for (const [name, other] of byChannel) {
    if (name !== 'S3') console.log(`${name} / S3 (best strategy each): time ${(other.timeS / s3.timeS).toFixed(2)}x, cost ${(other.costUsd / s3.costUsd).toFixed(2)}x`);
  }

  console.log('\nThe planner’s choice of channel, workers and memory for a whole job (Redis as one node):');
  const choiceRows: string[][] = [];
  const reasons: string[] = [];
  for (const name of ['resnet18-native', 'mlp-mnist-wasm']) {
    for (const objective of ['time', 'cost'] as const) {
      const options = plannerOptionsFor({ workload: WORKLOADS[name]!, seed: 1, policy: { kind: 'planner', syncStrategies: ['hierarchical', 'flat'] }, objective });
      const choice = chooseChannel(options);
      const plan = choice.estimates[choice.channel]!.plan[0]!;
      choiceRows.push([
        name,
        objective,
        choice.channel,
        `${plan.workers} × ${plan.memoryMb} MB, ${plan.sync}`,
        ...(['store', 'redis'] as const).map((c) => {
          const e = choice.estimates[c]!;
          return `${(e.timeS.expected / 60).toFixed(1)} min, $${e.costUsd.expected.toFixed(3)}`;
        }),
      ]);
      reasons.push(`${name}, ${objective}: ${choice.reason}`);
    }
  }
  console.log(table(['workload', 'objective', 'picks', 'plan', 'store (S3): predicted', 'Redis: predicted'], choiceRows));
  console.log(`\nexplain():\n${reasons.join('\n')}`);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}
