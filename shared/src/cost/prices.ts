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

export type Arch = keyof Omit<typeof PRICES.lambda, 'usdPerRequest' | 'billingGranularityMs'>;
