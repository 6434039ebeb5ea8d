/**
 * How the panel writes numbers. Locale-independent (`en-US`), so the same run renders the same
 * text in Node, in a VS Code webview and in a browser, and tests can assert on it.
 */

const DASH = '—';

export function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return DASH;
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

/** Run clock as m:ss or h:mm:ss, for log time stamps. */
export function formatClock(seconds: number): string {
  const s = Math.max(0, Math.floor(Number.isFinite(seconds) ? seconds : 0));
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return hh > 0 ? `${hh}:${String(mm).padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
}

/** Small runs cost fractions of a cent; show enough digits to see them move. */
export function formatUsd(usd: number | undefined): string {
  if (usd === undefined || !Number.isFinite(usd)) return DASH;
  const abs = Math.abs(usd);
  const digits = abs === 0 ? 2 : abs < 0.1 ? 4 : abs < 100 ? 2 : 0;
  // $0.0500 reads as $0.05; keep cents, drop zeros beyond them.
  const text = abs.toFixed(digits).replace(/(\.\d\d\d*?)0+$/, '$1');
  const [whole, cents] = text.split('.');
  return `${usd < 0 ? '-' : ''}$${Number(whole).toLocaleString('en-US')}${cents ? `.${cents}` : ''}`;
}

/**
 * A cost with where it is paid: a run on this machine's local workers costs nothing, and its
 * figure is what AWS Lambda would have charged; on AWS it is a bill. `platform` is the run's
 * (`local`, `aws-lambda`); unknown, the figure is only said to be Lambda's.
 */
export function costOn(cost: string, platform?: string): string {
  if (platform === 'local') return `free here, ${cost} as if on AWS Lambda`;
  if (platform === 'aws-lambda') return `${cost} on AWS Lambda`;
  return `${cost} as if on AWS Lambda`;
}

export function formatPercent(fraction: number | undefined, digits = 1): string {
  if (fraction === undefined || !Number.isFinite(fraction)) return DASH;
  return `${(fraction * 100).toFixed(digits)}%`;
}

export function formatLoss(loss: number | undefined): string {
  if (loss === undefined || !Number.isFinite(loss)) return DASH;
  return Math.abs(loss) >= 100 ? loss.toPrecision(4) : loss.toFixed(3);
}

export function formatInteger(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return DASH;
  return Math.round(n).toLocaleString('en-US');
}

export function formatMemory(memoryMb: number | undefined): string {
  return memoryMb === undefined || !Number.isFinite(memoryMb) ? DASH : `${formatInteger(memoryMb)} MB`;
}

/** Clamps to [0, 1]; NaN counts as 0 so a bad value never yields an invalid SVG width. */
export function unit(fraction: number): number {
  return Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0;
}
