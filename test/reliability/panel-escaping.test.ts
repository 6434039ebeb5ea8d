/**
 * Every string a run's events carry reaches the panel and the shareable report page escaped.
 * Instead of a list of fields, each recorded run (test/fixtures/runs) is replayed with *every*
 * free-text string replaced by markup naming where it came from; a string the renderer forgot
 * to escape would put a live `<img` (or an attribute breakout) into the output. Enumerated
 * fields (type, status, reasons) keep their values, so the reducer takes its usual paths.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { panelStateFromEvents, renderPanel, renderReportPage } from '@smlt/shared/panel/index';
import type { RunEvent } from '@smlt/shared/run/events';

const fixtures = new URL('../fixtures/runs/', import.meta.url);
/** Fields whose values are a closed set, not text: replacing them would only test the reducer's defaults. */
const ENUMERATED = new Set(['type', 'status', 'why', 'reason', 'sync', 'time', 'runId', 'code', 'platform', 'v']);

const payload = (where: string) => `<img src=x onerror=alert('${where}')>"'&</svg><script>x</script>`;

function hostile(value: unknown, path: string): unknown {
  if (typeof value === 'string') return payload(path);
  if (Array.isArray(value)) return value.map((v, i) => hostile(v, `${path}[${i}]`));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, ENUMERATED.has(k) && typeof v === 'string' ? v : hostile(v, `${path}.${k}`)]));
  }
  return value;
}

describe('panel and report page escaping', () => {
  for (const file of readdirSync(fixtures).filter((f) => f.endsWith('.jsonl'))) {
    it(`escapes every free-text string of ${file}`, () => {
      const events = readFileSync(new URL(file, fixtures), 'utf8')
        .trim()
        .split('\n')
        .map((line, i) => hostile(JSON.parse(line), `${file}:${i + 1}`) as RunEvent);
      const state = panelStateFromEvents(events);
      let replaced = 0;
      for (const [name, out] of [['panel', renderPanel(state)], ['report page', renderReportPage(state)]] as const) {
        assert.doesNotMatch(out, /<img|<script>x|onerror=alert\('[^']*'\)>"/i, `${name}: an unescaped payload`);
        replaced += (out.match(/&lt;img src=x onerror=alert\(/g) ?? []).length;
      }
      assert.ok(replaced > 0, 'the payloads reached the output (escaped)');
    });
  }
});
