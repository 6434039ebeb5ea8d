/**
 * The estimate as the prompt shows it (a run's or a sweep's), and the infeasibility explanation
 * with its fix. Pure, so the words are unit-tested.
 */
import type { Estimate } from '@smlt/shared/service/run-service';
import type { SweepEstimate } from '@smlt/shared/sweep/run-sweep';
import { formatDuration, formatUsd } from '@smlt/shared/cli/parse';
import { costOn } from '@smlt/shared/panel/format';

/** What the prompt shows of an estimate: its line, why it cannot hold (with the fix), what capture found. */
export interface PromptEstimate {
  line: string;
  problem?: string;
  found: { label: string; detail?: string }[];
}

export function runPromptEstimate(estimate: Estimate): PromptEstimate {
  const problem = infeasibleText(estimate);
  return { line: estimateLine(estimate), ...(problem ? { problem } : {}), found: foundLines(estimate) };
}

/** "12 trials, rungs of 1, 3, 9 epochs: ≈ 34 s (up to 50 s), free here, $0.021 (up to $0.030) as if on AWS Lambda, 2 trials at once" */
export function sweepPromptEstimate(estimate: SweepEstimate): PromptEstimate {
  const { forecast } = estimate;
  const line =
    `${estimate.trials} trials, rungs of ${estimate.rungs.join(', ')} epochs: ` +
    `≈ ${formatDuration(forecast.timeS.expected)} (up to ${formatDuration(forecast.timeS.high)}), ` +
    `${costOn(`${formatUsd(forecast.costUsd.expected)} (up to ${formatUsd(forecast.costUsd.high)})`, estimate.backend === 'aws' ? 'aws-lambda' : 'local')}, ` +
    `${forecast.concurrency} trial${forecast.concurrency === 1 ? '' : 's'} at once`;
  const objective = `$(target) ${estimate.objective.direction} val_${estimate.objective.metric}; the best 1/${estimate.eta} of each rung go on`;
  return {
    line,
    ...(forecast.feasible ? {} : { problem: forecast.advice ?? 'The sweep cannot hold this deadline and budget: allow more time or money, or fewer trials.' }),
    found: [{ label: objective }],
  };
}

/** "≈ 25 s (18 s – 46 s), free here, $0.0028 as if on AWS Lambda, 1 × 512 MB on wasm" */
export function estimateLine(estimate: Estimate): string {
  const { timeS, costUsd } = estimate;
  return (
    `≈ ${formatDuration(timeS.expected)} (${formatDuration(timeS.low)} – ${formatDuration(timeS.high)}), ` +
    `${costOn(formatUsd(costUsd.expected), estimate.platform)}, ${estimate.workers} × ${estimate.memoryMb} MB` +
    (estimate.backend ? ` on ${estimate.backend.name}` : '')
  );
}

/** Why the choices cannot be met and what to change; undefined when feasible. */
export function infeasibleText(estimate: Estimate): string | undefined {
  if (estimate.feasible) return undefined;
  return estimate.advice ?? 'No configuration meets this deadline and budget: allow more time or money.';
}

/**
 * What capture found, as the review step lists it: a row per part of the summary (model, data,
 * loss, optimizer, epochs; a quick pick row does not wrap), then each warning.
 */
export function foundLines(estimate: Estimate): { label: string; detail?: string }[] {
  if (!estimate.found) return [];
  return [
    ...estimate.found.summary.split(' · ').map((part, i) => ({ label: `$(search) ${i === 0 ? 'Found: ' : ''}${part}` })),
    ...estimate.found.warnings.map((warning) => ({ label: '$(warning) Check', detail: warning })),
  ];
}
