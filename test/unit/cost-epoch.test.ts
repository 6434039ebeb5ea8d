/**
 * The cost model: price tables, the request counts of each sync strategy (checked against the
 * real strategies on a folder store), and the cost of an epoch worked out by hand.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FolderStore } from '@smlt/shared/backends/local/folder-store';
import type { ObjectStore, RequestCounts } from '@smlt/shared/backends/ports';
import { epochCost, iterationRequests, syncBytesPerIteration, syncRequestsPerIteration } from '@smlt/shared/cost/epoch-cost';
import { AwsSettingsSchema } from '@smlt/shared/backends/aws/config';
import { LambdaPlatform } from '@smlt/shared/backends/aws/lambda-platform';
import { LocalPlatform } from '@smlt/shared/backends/local/local-platform';
import { CostMeter, costBreakdown } from '@smlt/shared/cost/cost';
import { PRICE_TABLES, PRICES, type PricedPlatform } from '@smlt/shared/cost/prices';
import { syncStrategy } from '@smlt/shared/sync/index';
import type { SyncName } from '@smlt/shared/sync/strategy';

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'smlt-cost-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('price tables', () => {
  it('has one table per platform, each with its source and date, and leaves PRICES as it was', () => {
    for (const table of Object.values(PRICE_TABLES)) {
      assert.match(table.source, /pricing/i);
      assert.match(table.checked, /^\d{4}-\d{2}-\d{2}$/);
      assert.ok(table.usdPerGbSecond > 0 && table.usdPerInvocation > 0 && table.store.usdPerPut > table.store.usdPerGet);
    }
    assert.equal(PRICE_TABLES['lambda-x86_64'].usdPerGbSecond, 0.0000166667);
    assert.equal(PRICE_TABLES['lambda-arm64'].usdPerGbSecond, 0.0000133334);
    assert.equal(PRICE_TABLES['lambda-x86_64'].store.usdPerPut, 0.005 / 1000);
    assert.equal(PRICE_TABLES['lambda-x86_64'].store.usdPerGet, 0.0004 / 1000);
    // Local runs cost nothing; they are priced as if on Lambda x86_64.
    assert.equal(PRICE_TABLES.local.hypothetical, true);
    assert.equal(PRICE_TABLES.local.usdPerGbSecond, PRICE_TABLES['lambda-x86_64'].usdPerGbSecond);
    assert.equal(PRICES.lambda.x86_64.usdPerGbSecond, 0.0000166667);
  });
});

describe('cost meter', () => {
  it("charges each platform's prices: an arm64 Lambda second costs 80% of an x86_64 one", () => {
    const spend = (pricing: PricedPlatform) => {
      const meter = new CostMeter(PRICE_TABLES[pricing]);
      meter.addInvocation(2048, 1500); // 3 GB-s
      meter.addRequests({ put: 1000, get: 10_000 });
      return meter.breakdown();
    };
    const x86 = spend('lambda-x86_64');
    const arm = spend('lambda-arm64');
    assert.ok(Math.abs(x86.computeUsd - 3 * 0.0000166667) < 1e-12, `x86_64 compute ${x86.computeUsd}`);
    assert.ok(Math.abs(arm.computeUsd - 3 * 0.0000133334) < 1e-12, `arm64 compute ${arm.computeUsd}`);
    assert.deepEqual(spend('local'), x86, 'local runs are priced as Lambda x86_64');
    assert.equal(arm.invocationsUsd, 0.2 / 1_000_000);
    assert.ok(Math.abs(arm.storageRequestsUsd - (0.005 + 0.004)) < 1e-12, `requests ${arm.storageRequestsUsd}`);
    assert.equal(arm.totalUsd, arm.computeUsd + arm.invocationsUsd + arm.storageRequestsUsd);
  });

  it('continues from a saved tally, and a tally alone gives the same breakdown', () => {
    const meter = new CostMeter(PRICE_TABLES['lambda-arm64']);
    meter.addInvocation(1024, 1000);
    const resumed = new CostMeter(PRICE_TABLES['lambda-arm64'], meter.toJSON());
    resumed.addInvocation(1024, 1000);
    assert.equal(resumed.toJSON().invocations, 2);
    assert.ok(Math.abs(resumed.breakdown().computeUsd - 2 * 0.0000133334) < 1e-12);
    assert.deepEqual(costBreakdown(resumed.toJSON()), resumed.breakdown());
    assert.equal(meter.toJSON().invocations, 1, 'the saved tally is a copy');
  });

  it('a Lambda platform is priced at the architecture its functions are deployed for', () => {
    const settings = (architecture: 'arm64' | 'x86_64') =>
      AwsSettingsSchema.parse({ region: 'eu-west-1', bucket: 'my-smlt-runs', role: 'arn:aws:iam::123456789012:role/smlt-worker', architecture });
    assert.equal(new LambdaPlatform({ settings: settings('arm64') }).pricing, 'lambda-arm64');
    assert.equal(new LambdaPlatform({ settings: settings('x86_64') }).pricing, 'lambda-x86_64');
    assert.equal(new LocalPlatform().pricing, 'local');
  });
});

/** A folder store without `waitFor`, so a read of a missing object is a poll we can tell apart. */
class CountingStore implements ObjectStore {
  readonly objectReads = { count: 0 };
  polls = 0;
  constructor(private readonly inner: FolderStore) {}
  get url() {
    return this.inner.url;
  }
  get requests(): RequestCounts {
    return this.inner.requests;
  }
  put(key: string, body: Uint8Array | string) {
    return this.inner.put(key, body);
  }
  async get(key: string) {
    const body = await this.inner.get(key);
    if (body) this.objectReads.count++;
    else this.polls++;
    return body;
  }
  has(key: string) {
    return this.inner.has(key);
  }
  list(prefix: string) {
    return this.inner.list(prefix);
  }
  delete(keys: readonly string[]) {
    return this.inner.delete(keys);
  }
}

describe('request counts', () => {
  for (const name of ['hierarchical', 'flat'] as SyncName[]) {
    it(`match what the ${name} strategy really does (PUTs, and GETs that returned an object)`, async () => {
      for (const workers of [1, 2, 3, 5]) {
        const folder = join(root, `${name}-${workers}`);
        const stores = Array.from({ length: workers }, () => new CountingStore(new FolderStore(folder)));
        const results = await Promise.all(
          stores.map((store, rank) =>
            syncStrategy(name).allReduce(
              { store, prefix: 'runs/r/sync/e0000', workers, rank, timeoutMs: 5000, pollMs: { initial: 1, max: 5 } },
              0,
              Float32Array.from({ length: 37 }, (_, i) => rank + i),
            ),
          ),
        );
        const expected = syncRequestsPerIteration(name, workers);
        assert.equal(stores.reduce((a, s) => a + s.requests.put, 0), expected.put, `${workers} workers: PUTs`);
        assert.equal(stores.reduce((a, s) => a + s.objectReads.count, 0), expected.get, `${workers} workers: GETs`);
        // Bytes moved: the model's figure is the payload; the real objects add a small header each.
        const moved = results.reduce((a, r) => a + r.stats.bytesWritten + r.stats.bytesRead, 0);
        const payload = syncBytesPerIteration(workers, 37 * 4);
        const objects = expected.put + expected.get;
        assert.ok(moved >= payload && moved <= payload + objects * 64, `${workers} workers: ${moved} bytes moved, model ${payload} + headers`);
      }
    });
  }

  it('grow as n² for hierarchical and as n for flat', () => {
    assert.deepEqual(syncRequestsPerIteration('hierarchical', 100), { put: 10_000, get: 19_800, list: 0, delete: 0 });
    assert.deepEqual(syncRequestsPerIteration('flat', 100), { put: 100, get: 198, list: 0, delete: 0 });
    // Plus one progress marker per worker and the polls.
    assert.deepEqual(iterationRequests('hierarchical', 4, 7), { put: 20, get: 31, list: 0, delete: 0 });
  });
});

describe('epoch cost', () => {
  it('is duration + invocations + requests, as worked out by hand', () => {
    const cost = epochCost(
      { workers: 4, memoryMb: 2048, sync: 'hierarchical', iterations: 10, billedSPerWorker: 100, invocations: 4 },
      PRICE_TABLES['lambda-x86_64'],
    );
    // 4 workers × 2 GB × 100 s × $0.0000166667
    assert.ok(Math.abs(cost.durationUsd - 0.01333336) < 1e-12);
    assert.ok(Math.abs(cost.invocationsUsd - 4 * 0.2e-6) < 1e-15);
    // Per iteration 16 PUTs (n²) + 4 markers, 24 GETs (2n(n-1)); per epoch +1 PUT (checkpoint),
    // +4 GETs (start state), +40 GETs (the orchestrator reads every marker), 3 LISTs (priced as PUT).
    assert.deepEqual(cost.requests, { put: 201, get: 284, list: 3, delete: 0 });
    assert.ok(Math.abs(cost.requestsUsd - ((201 + 3) * 0.005e-3 + 284 * 0.0004e-3)) < 1e-15);
    assert.ok(Math.abs(cost.totalUsd - (cost.durationUsd + cost.invocationsUsd + cost.requestsUsd)) < 1e-15);
    assert.ok(Math.abs(cost.totalUsd - 0.0144677) < 1e-6);
  });

  it('prices arm64 below x86 for the same work, and a local run like x86', () => {
    const input = { workers: 8, memoryMb: 1769, sync: 'flat' as const, iterations: 50, billedSPerWorker: 60 };
    const x86 = epochCost(input, PRICE_TABLES['lambda-x86_64']).totalUsd;
    assert.ok(epochCost(input, PRICE_TABLES['lambda-arm64']).totalUsd < x86);
    assert.equal(epochCost(input, PRICE_TABLES.local).totalUsd, x86);
  });
});
