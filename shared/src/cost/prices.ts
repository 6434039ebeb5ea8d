/**
 * List prices, us-east-1, on demand. Source: aws.amazon.com/lambda/pricing and
 * aws.amazon.com/s3/pricing, as transcribed in the project's design brief (checked 2026-11).
 * Local runs are free; they are priced "as if on Lambda" so a user can compare.
 */
export const PRICES = {
  source: 'AWS Lambda and S3 pricing pages, us-east-1, list prices',
  checked: '2026-11-01',
  lambda: {
    x86_64: { usdPerGbSecond: 0.0000166667 },
    arm64: { usdPerGbSecond: 0.0000133334 },
    usdPerRequest: 0.2 / 1_000_000,
    /** Lambda bills duration in 1 ms increments. */
    billingGranularityMs: 1,
  },
  s3: {
    usdPerPut: 0.005 / 1000, // PUT, COPY, POST, LIST
    usdPerGet: 0.0004 / 1000, // GET and all other requests
  },
} as const;

/** Object-store requests by kind, as S3 bills them (PUT/LIST at one price, GET and the rest at another). */
export interface RequestCounts {
  put: number;
  get: number;
  list: number;
  delete: number;
}

/**
 * An in-memory gradient channel (Redis/Valkey) priced as ElastiCache Serverless for Valkey,
 * us-east-1 (CALIBRATION.md §5, AWS pricing as of 2025–26): $0.0023 per million ECPUs, one ECPU
 * per KB transferred, and $0.084 per GB-hour stored with a 100 MB minimum. A gradient channel
 * holds at most a few iterations' worth of data, so the minimum is what it pays for storage.
 */
export const CHANNEL_PRICES = {
  source: 'Amazon ElastiCache Serverless pricing (Valkey), us-east-1',
  checked: '2026-11-01',
  redis: {
    usdPerMillionEcpu: 0.0023,
    bytesPerEcpu: 1024,
    usdPerGbHour: 0.084,
    minGb: 0.1,
  },
} as const;

/** What moving and holding gradients in a channel costs: per GB moved (each way) and per hour. */
export interface ChannelPrices {
  name: 'redis';
  usdPerGbMoved: number;
  usdPerHour: number;
}

export const REDIS_CHANNEL_PRICES: ChannelPrices = {
  name: 'redis',
  usdPerGbMoved: (1e9 / CHANNEL_PRICES.redis.bytesPerEcpu) * (CHANNEL_PRICES.redis.usdPerMillionEcpu / 1e6),
  usdPerHour: CHANNEL_PRICES.redis.minGb * CHANNEL_PRICES.redis.usdPerGbHour,
};

export type Arch = keyof Omit<typeof PRICES.lambda, 'usdPerRequest' | 'billingGranularityMs'>;

/**
 * One price table per platform the scheduler can plan for. Every figure is a list price from the
 * pages named in `source` (us-east-1, on demand, first pricing tier), as of `checked`; the
 * project's CALIBRATION.md §5 cites the same pages. `local` costs nothing to run; it carries the
 * Lambda x86_64 prices so a local run is planned and reported "as if on Lambda".
 */
export interface PriceTable {
  platform: PricedPlatform;
  /** What the numbers are, for reports: e.g. "AWS Lambda x86_64 + S3 Standard, us-east-1". */
  label: string;
  source: string;
  checked: string;
  /** Duration price per GB-second of configured memory (memory in MB / 1024). */
  usdPerGbSecond: number;
  /** Price of one invocation (request). */
  usdPerInvocation: number;
  billingGranularityMs: number;
  /** Object-store request prices (S3 Standard): PUT/COPY/POST, GET/HEAD, LIST; DELETE is free. */
  store: { usdPerPut: number; usdPerGet: number; usdPerList: number };
  /** True when running on it costs nothing and the prices are for comparison only. */
  hypothetical: boolean;
}

export type PricedPlatform = 'lambda-x86_64' | 'lambda-arm64' | 'local';

const S3_STANDARD = { usdPerPut: PRICES.s3.usdPerPut, usdPerGet: PRICES.s3.usdPerGet, usdPerList: PRICES.s3.usdPerPut };

/** Lambda at `arch` with S3 Standard; `hypothetical` for local runs priced as if on Lambda. */
function lambdaTable(platform: PricedPlatform, arch: Arch, label: string, hypothetical: boolean): PriceTable {
  return {
    platform,
    label,
    source: PRICES.source,
    checked: PRICES.checked,
    usdPerGbSecond: PRICES.lambda[arch].usdPerGbSecond,
    usdPerInvocation: PRICES.lambda.usdPerRequest,
    billingGranularityMs: PRICES.lambda.billingGranularityMs,
    store: S3_STANDARD,
    hypothetical,
  };
}

export const PRICE_TABLES: Readonly<Record<PricedPlatform, PriceTable>> = {
  'lambda-x86_64': lambdaTable('lambda-x86_64', 'x86_64', 'AWS Lambda x86_64 + S3 Standard, us-east-1', false),
  'lambda-arm64': lambdaTable('lambda-arm64', 'arm64', 'AWS Lambda arm64 + S3 Standard, us-east-1', false),
  local: lambdaTable('local', 'x86_64', 'local workers, priced as if on AWS Lambda x86_64 + S3 Standard', true),
};
