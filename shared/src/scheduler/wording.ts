/** How the planner writes money and durations in its reasons and advice. */

export function fmt(usd: number): string {
  if (!Number.isFinite(usd)) return String(usd);
  return usd >= 100 ? usd.toFixed(0) : usd >= 1 ? usd.toFixed(2) : usd.toPrecision(2);
}

export function fmtS(seconds: number): string {
  if (!Number.isFinite(seconds)) return String(seconds);
  if (seconds >= 3600) return `${(seconds / 3600).toFixed(1)} h`;
  if (seconds >= 120) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds)} s`;
}

export function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
