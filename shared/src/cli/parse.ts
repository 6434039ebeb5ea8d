/**
 * Parsers of the command line's values (pure, so they are unit-tested): each throws commander's
 * InvalidArgumentError naming the flag, which commander prints with the usage and exit code 1.
 */
import { InvalidArgumentError } from 'commander';
import { isChannelSpec } from '../service/channels.js';

const UNIT_S: Record<string, number> = { s: 1, m: 60, h: 3600 };

/** Seconds from `90s`, `20m`, `1h`, `1.5h` or plain seconds (`600`); positive and finite. */
export function parseDuration(value: string, flag = '--deadline'): number {
  const match = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*([smh]?)\s*$/i.exec(value);
  const seconds = match ? Number(match[1]) * UNIT_S[(match[2] || 's').toLowerCase()]! : Number.NaN;
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new InvalidArgumentError(`${flag} must be a positive duration such as 90s, 20m, 1h or a number of seconds (got "${value}").`);
  }
  return seconds;
}

/** US dollars from `1.50` or `$1.50`; positive and finite. */
export function parseUsd(value: string, flag = '--budget'): number {
  const match = /^\s*\$?\s*(\d+(?:\.\d+)?|\.\d+)\s*$/.exec(value);
  const usd = match ? Number(match[1]) : Number.NaN;
  if (!Number.isFinite(usd) || usd <= 0) {
    throw new InvalidArgumentError(`${flag} must be a positive amount of US dollars such as 1.50 (got "${value}").`);
  }
  return usd;
}

export function parseObjective(value: string, flag = '--objective'): 'time' | 'cost' {
  if (value !== 'time' && value !== 'cost') throw new InvalidArgumentError(`${flag} must be time or cost (got "${value}").`);
  return value;
}

/** A whole number of workers from 1 to 1000, or `auto` (the adaptive scheduler chooses). */
export function parseWorkers(value: string, flag = '--workers'): number | 'auto' {
  if (value.trim().toLowerCase() === 'auto') return 'auto';
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 1000) {
    throw new InvalidArgumentError(`${flag} must be a whole number from 1 to 1000, or auto (got "${value}").`);
  }
  return n;
}

/** A duration for people: `42 s`, `3 min 20 s`, `1 h 5 min`. */
export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)} s`;
  const s = Math.round(seconds);
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ''}`;
  const m = Math.round(s / 60);
  return `${Math.floor(m / 60)} h${m % 60 ? ` ${m % 60} min` : ''}`;
}

/** Dollars with enough digits for tiny local runs. */
export function formatUsd(usd: number): string {
  return usd >= 0.01 ? `$${usd.toFixed(2)}` : `$${usd.toPrecision(2)}`;
}

export function positiveInt(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${flag} must be a whole number ≥ 1.`);
    return n;
  };
}

export function syncName(value: string): 'hierarchical' | 'flat' {
  if (value !== 'hierarchical' && value !== 'flat') throw new InvalidArgumentError('choose hierarchical or flat.');
  return value;
}

export function backendName(value: string): 'local' | 'aws' {
  return oneOf(value, ['local', 'aws'] as const, '--backend', ' (aws needs `smlt deploy` first)');
}

/** A parser for a flag that takes one of `choices`. */
export function oneOf<T extends string>(value: string, choices: readonly T[], flag: string, hint = ''): T {
  if (!(choices as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`${flag} must be one of ${choices.join(', ')}${hint}; got "${value}".`);
  }
  return value as T;
}

/** `--memory 1769,3008`: Lambda memory sizes in MB (128–10,240). */
export function memoryList(value: string): number[] {
  const sizes = value.split(',').map((part) => Number(part.trim()));
  if (sizes.length === 0 || sizes.some((n) => !Number.isInteger(n) || n < 128 || n > 10_240)) {
    throw new InvalidArgumentError('--memory takes comma-separated whole numbers of MB between 128 and 10240, e.g. 1769,3008.');
  }
  return [...new Set(sizes)];
}

/** `--channel store|redis|redis://HOST:PORT`: where workers exchange gradients. */
export function channelSpec(value: string): string {
  if (!isChannelSpec(value)) {
    throw new InvalidArgumentError('use store (the run\'s store), redis (a private redis-server), a redis://HOST:PORT URL, or auto (the scheduler chooses).');
  }
  return value;
}
