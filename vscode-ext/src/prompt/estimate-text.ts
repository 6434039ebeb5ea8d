/**
 * The estimate as the prompt shows it, and the infeasibility explanation with its fix.
 * Pure, so the words are unit-tested.
 */
import type { Estimate } from '@smlt/shared/service/run-service';
import { formatDuration, formatUsd } from '@smlt/shared/cli/parse';
import { costOn } from '@smlt/shared/panel/format';

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
