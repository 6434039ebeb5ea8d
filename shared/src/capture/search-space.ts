/**
 * A sweep's search space: named parameters, each a choice, a float range or an int range (linear
 * or log scale), and how trials are drawn from it (a Latin hypercube: stratified, so a dozen
 * trials cover every parameter's range evenly; or a full grid, for the benchmark's baseline).
 * Browser-safe and pure: the sweep cell (sweep-cell.ts) and a model cell's `hp` both give these.
 */
import { SmltError, quoted } from '../errors.js';
import { mulberry32, permutation } from '../data/order.js';

export type ParamValue = string | number | boolean;

export type Domain =
  | { kind: 'choice'; values: readonly ParamValue[] }
  | { kind: 'float'; min: number; max: number; log: boolean }
  | { kind: 'int'; min: number; max: number; log: boolean; step: number };

export interface Param {
  name: string;
  domain: Domain;
}

/** One trial's settings, by parameter name. */
export type Values = Record<string, ParamValue>;

/**
 * A domain as a sweep cell writes it: a list is a choice; `{float: [0, 0.5]}`, `{int: [1, 4]}`,
 * `{log: [0.0001, 0.1]}` (a float on a log scale) or `{choice: [...]}` name the kind.
 */
export function parseDomain(value: unknown, where: string): Domain {
  if (Array.isArray(value)) return choiceDomain(value, where);
  const entries = value !== null && typeof value === 'object' ? Object.entries(value) : [];
  const [kind, bounds] = entries.length === 1 ? entries[0]! : [];
  if (kind === 'choice') return choiceDomain(bounds, where);
  if (kind === 'float' || kind === 'log' || kind === 'int') {
    const [min, max] = rangeOf(bounds, where);
    return kind === 'int' ? intDomain(min, max, { log: false, step: 1 }, where) : floatDomain(min, max, { log: kind === 'log' }, where);
  }
  throw new SmltError(
    'SWEEP_INVALID',
    `${where}: ${quoted(value)} is not a search range. Write a list of choices ([32, 64, 128]), ` +
      '{float: [0, 0.5]}, {int: [1, 4]} or {log: [0.0001, 0.1]}.',
  );
}

export function choiceDomain(values: unknown, where: string): Domain {
  if (!Array.isArray(values) || values.length === 0) {
    throw new SmltError('SWEEP_INVALID', `${where}: a choice needs at least one value, e.g. [32, 64, 128].`);
  }
  for (const v of values) {
    if (!['string', 'number', 'boolean'].includes(typeof v) || (typeof v === 'number' && !Number.isFinite(v))) {
      throw new SmltError('SWEEP_INVALID', `${where}: the choice ${quoted(v)} is not a number, string or boolean.`);
    }
  }
  if (new Set(values).size !== values.length) {
    throw new SmltError('SWEEP_INVALID', `${where}: the choices ${quoted(values)} repeat a value; list each once.`);
  }
  return { kind: 'choice', values: values as ParamValue[] };
}

export function floatDomain(min: number, max: number, options: { log: boolean }, where: string): Domain {
  checkRange(min, max, options.log, where);
  return { kind: 'float', min, max, log: options.log };
}

export function intDomain(min: number, max: number, options: { log: boolean; step: number }, where: string): Domain {
  if (!Number.isInteger(min) || !Number.isInteger(max)) {
    throw new SmltError('SWEEP_INVALID', `${where}: an int range needs whole numbers (got ${min} to ${max}).`);
  }
  if (!Number.isInteger(options.step) || options.step < 1) {
    throw new SmltError('SWEEP_INVALID', `${where}: the step must be a whole number of at least 1 (got ${options.step}).`);
  }
  checkRange(min, max, options.log, where);
  return { kind: 'int', min, max, log: options.log, step: options.step };
}

function rangeOf(bounds: unknown, where: string): [number, number] {
  if (Array.isArray(bounds) && bounds.length === 2 && bounds.every((b) => typeof b === 'number')) return bounds as [number, number];
  throw new SmltError('SWEEP_INVALID', `${where}: a range is [low, high], two numbers (got ${quoted(bounds)}).`);
}

function checkRange(min: number, max: number, log: boolean, where: string): void {
  if (!Number.isFinite(min) || !Number.isFinite(max) || !(min < max)) {
    throw new SmltError('SWEEP_INVALID', `${where}: the range ${min} to ${max} is empty; the low end must be below the high end.`);
  }
  if (log && min <= 0) {
    throw new SmltError('SWEEP_INVALID', `${where}: a log-scale range must be above 0 (got ${min} to ${max}).`);
  }
}

/** How many distinct values a domain has (Infinity for a float range). */
export function domainSize(domain: Domain): number {
  if (domain.kind === 'choice') return domain.values.length;
  if (domain.kind === 'int') return Math.floor((domain.max - domain.min) / domain.step) + 1;
  return Infinity;
}

/** The value at u in [0, 1): a quantile of the domain on its own scale. */
export function valueAt(domain: Domain, u: number): ParamValue {
  const t = Math.min(Math.max(u, 0), 1 - 1e-12);
  if (domain.kind === 'choice') return domain.values[Math.floor(t * domain.values.length)]!;
  const { min, max, log } = domain;
  if (domain.kind === 'int') {
    const size = domainSize(domain);
    if (!log) return min + Math.floor(t * size) * domain.step;
    const x = Math.exp(Math.log(min) + t * (Math.log(max + 1) - Math.log(min)));
    return Math.min(max, min + Math.floor((x - min) / domain.step) * domain.step);
  }
  const x = log ? Math.exp(Math.log(min) + t * (Math.log(max) - Math.log(min))) : min + t * (max - min);
  return Number(x.toPrecision(4));
}

/** The value a parameter takes when nothing chose one: the first choice, the low end of a range. */
export function defaultValue(domain: Domain): ParamValue {
  return domain.kind === 'choice' ? domain.values[0]! : domain.min;
}

/**
 * `count` trials, stratified: a Latin hypercube, so each parameter's range is cut into `count`
 * equal strata and every stratum is drawn once (a choice of k values gets each value in every k
 * trials, whatever else varies), each parameter's strata shuffled apart (seeded). Trials that land
 * on the same values (small discrete spaces) are drawn once, topped up with random draws; fewer
 * come back only when the space is smaller than `count`.
 */
export function sampleTrials(params: readonly Param[], count: number, seed: number): Values[] {
  const random = mulberry32(seed);
  const size = params.reduce((n, p) => n * domainSize(p.domain), 1);
  const wanted = Math.min(count, size);
  const strata = params.map((_, d) => permutation(count, (seed + 7919 * (d + 1)) >>> 0));
  const trials: Values[] = [];
  const seen = new Set<string>();
  const add = (u: (d: number) => number) => {
    const values = Object.fromEntries(params.map((p, d) => [p.name, valueAt(p.domain, u(d))]));
    const key = JSON.stringify(values);
    if (seen.has(key)) return;
    seen.add(key);
    trials.push(values);
  };
  for (let i = 0; i < count && trials.length < wanted; i++) add((d) => (strata[d]![i]! + random()) / count);
  for (let tries = 0; trials.length < wanted && tries < count * 50; tries++) add(() => random());
  return trials;
}

/** Every combination, with `pointsPerRange` evenly spaced values for a float range (the benchmark's full grid). */
export function gridTrials(params: readonly Param[], pointsPerRange: number): Values[] {
  const axes = params.map((p) => {
    const n = Math.min(domainSize(p.domain), pointsPerRange);
    const values = p.domain.kind === 'choice' ? p.domain.values : Array.from({ length: n }, (_, i) => valueAt(p.domain, (i + 0.5) / n));
    return [...new Set(values)].map((v) => [p.name, v] as const);
  });
  return axes.reduce<Values[]>((trials, axis) => trials.flatMap((t) => axis.map(([name, v]) => ({ ...t, [name]: v }))), [{}]);
}

/** `learningRate=0.003, units=128`: how events and the leaderboard name a trial's settings. */
export function describeValues(values: Values): string {
  return Object.entries(values)
    .map(([name, v]) => `${name}=${typeof v === 'number' && !Number.isInteger(v) ? Number(v.toPrecision(3)) : v}`)
    .join(', ');
}
