/**
 * The `hp` object a tfjs model cell sees: `hp.choice('units', [64, 128, 256])`,
 * `hp.float('dropout', 0, 0.5)`, `hp.float('lr', 1e-4, 1e-1, { log: true })`,
 * `hp.int('layers', 1, 3)`. Each call declares a parameter of the sweep and returns its value in
 * this trial; outside a sweep (a plain `smlt train`) it returns the default: the first choice, the
 * low end of a range. The same cell trains on its own and varies in a sweep.
 */
import { SmltError } from '../errors.js';
import { type Domain, type Param, type ParamValue, type Values, choiceDomain, defaultValue, floatDomain, intDomain } from './search-space.js';

export interface HyperParameters {
  /** What the cell's code calls (put in its context as `hp`). */
  api: {
    choice(name: unknown, values: unknown): ParamValue;
    float(name: unknown, min: unknown, max: unknown, options?: unknown): ParamValue;
    int(name: unknown, min: unknown, max: unknown, options?: unknown): ParamValue;
  };
  /** Every parameter the code declared, in order. */
  declared: Param[];
  /** The first bad declaration: thrown by the capture even if the cell caught it. */
  error?: SmltError;
}

export function hyperParameters(values: Values, label: string): HyperParameters {
  const result: HyperParameters = { api: undefined as never, declared: [] };
  const declare = (name: unknown, domainOf: (where: string) => Domain): ParamValue => {
    try {
      if (typeof name !== 'string' || !/^[A-Za-z_][\w.]*$/.test(name)) {
        throw new SmltError('SWEEP_INVALID', `${label}: hp parameters need a name such as 'units' (got ${JSON.stringify(name)}).`);
      }
      const where = `${label}: hp '${name}'`;
      const domain = domainOf(where);
      const previous = result.declared.find((p) => p.name === name);
      if (previous && JSON.stringify(previous.domain) !== JSON.stringify(domain)) {
        throw new SmltError('SWEEP_INVALID', `${where} is declared twice with different ranges; declare it once.`);
      }
      if (!previous) result.declared.push({ name, domain });
      return values[name] ?? defaultValue(domain);
    } catch (err) {
      result.error ??= err as SmltError;
      throw err;
    }
  };
  const numbers = (where: string, min: unknown, max: unknown): [number, number] => {
    if (typeof min !== 'number' || typeof max !== 'number') {
      throw new SmltError('SWEEP_INVALID', `${where}: the range needs two numbers, low and high (got ${String(min)} and ${String(max)}).`);
    }
    return [min, max];
  };
  const option = (options: unknown, key: string): unknown => (options !== null && typeof options === 'object' ? (options as Record<string, unknown>)[key] : undefined);
  result.api = {
    choice: (name, choices) => declare(name, (where) => choiceDomain(choices, where)),
    float: (name, min, max, options) =>
      declare(name, (where) => floatDomain(...numbers(where, min, max), { log: option(options, 'log') === true }, where)),
    int: (name, min, max, options) =>
      declare(name, (where) => {
        const step = option(options, 'step');
        return intDomain(...numbers(where, min, max), { log: option(options, 'log') === true, step: typeof step === 'number' ? step : 1 }, where);
      }),
  };
  return result;
}
