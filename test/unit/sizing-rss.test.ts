/**
 * The memory footprint estimate against the peak RSS of real local workers, as recorded by
 * test/bench/sizing-rss.ts in test/fixtures/sizing/measured-rss.json. No training here: it fails
 * when the sizing model changes without re-measuring (`node --import tsx test/bench/sizing-rss.ts --write`).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { memoryFootprint } from '@smlt/shared/sizing/memory';
import { BACKEND_PROFILES } from '@smlt/shared/sizing/profiles';

interface Recorded {
  name: string;
  paramCount: number;
  input: { optimizer: 'sgd' | 'momentum' | 'adagrad' | 'adam' | 'rmsprop'; bytesPerSample: number; workers: number; perWorkerBatch: number; partitionSamples: number; sync: 'flat' | 'hierarchical' };
  measuredPeakMb: number;
}

const fixture = JSON.parse(readFileSync(new URL('../fixtures/sizing/measured-rss.json', import.meta.url), 'utf8')) as {
  machine: { profile: 'wasm-simd' };
  models: Recorded[];
};

describe('memory footprint vs measured worker RSS (wasm-simd)', () => {
  it('records at least three models', () => {
    assert.ok(fixture.models.length >= 3, `${fixture.models.length} models`);
    assert.equal(fixture.machine.profile, 'wasm-simd');
  });

  for (const m of fixture.models) {
    it(`estimates ${m.name} (${m.paramCount} parameters) within ±25% of its measured ${m.measuredPeakMb} MB`, () => {
      const { optimizer, bytesPerSample, ...rest } = m.input;
      const f = memoryFootprint({ model: { paramCount: m.paramCount, optimizer, bytesPerSample }, profile: BACKEND_PROFILES['wasm-simd'], ...rest });
      const ratio = f.hostMb / m.measuredPeakMb;
      assert.ok(ratio >= 0.75 && ratio <= 1.25, `${m.name}: estimate ${f.hostMb.toFixed(1)} MB vs measured ${m.measuredPeakMb} MB (ratio ${ratio.toFixed(2)})`);
    });
  }
});
