/**
 * The progress panel: the reducer over recorded runs (test/fixtures/runs/*.jsonl, real
 * `smlt train --json` output plus runs with a killed worker, a run that failed, one cancelled
 * and then resumed), the renderer's text and accessibility, and escaping of hostile input.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { clip, escapeHtml, html, raw, userText } from '@smlt/shared/panel/escape';
import {
  LOG_LIMIT,
  LOSS_POINT_LIMIT,
  type PanelState,
  describeTrend,
  initialPanelState,
  panelStateFromEvents,
  reducePanel,
  renderPanel,
  renderReportPage,
} from '@smlt/shared/panel/index';
import type { RunEvent, RunEventOf } from '@smlt/shared/run/events';
import type { RunReport } from '@smlt/shared/run/outputs';

const fixtures = new URL('../fixtures/runs/', import.meta.url);

function fixture(name: string): RunEvent[] {
  return readFileSync(new URL(name, fixtures), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as RunEvent);
}

function ofType<T extends RunEvent['type']>(events: RunEvent[], type: T): RunEventOf<T>[] {
  return events.filter((e): e is RunEventOf<T> => e.type === type);
}

/** The state after the events up to and including the first that matches. */
function stateAt(events: RunEvent[], match: (e: RunEvent) => boolean, options?: Parameters<typeof initialPanelState>[0]): PanelState {
  const index = events.findIndex(match);
  assert.ok(index >= 0, 'the fixture has the event');
  return panelStateFromEvents(events.slice(0, index + 1), options);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

describe('escaping', () => {
  it('escapes markup, both quotes and ampersands', () => {
    assert.equal(escapeHtml(`<script>alert("x")</script> & 'y'`), '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;');
    assert.equal(escapeHtml('"onload="alert(1)'), '&quot;onload=&quot;alert(1)');
    assert.equal(escapeHtml('</svg><svg onload=alert(1)>'), '&lt;/svg&gt;&lt;svg onload=alert(1)&gt;');
  });

  it('drops control characters and bidi overrides, repairs lone surrogates and keeps real unicode', () => {
    assert.equal(escapeHtml('a\u0000b\u0007c\td\ne'), 'abc\td\ne');
    assert.equal(escapeHtml('invoice\u202Egnp.exe \u2067x\u2069'), 'invoicegnp.exe x');
    assert.equal(escapeHtml('שלום model عربى'), 'שלום model عربى');
    assert.equal(escapeHtml('x\uD800y'), 'x\uFFFDy');
    assert.equal(escapeHtml('模型 🚀 Ωμέγα'), '模型 🚀 Ωμέγα');
  });

  it('escapes every interpolation of html`…` except markup it made', () => {
    const name = '<b>bold</b>';
    const out = html`<p title="${name}">${name} ${html`<i>${name}</i>`} ${[name, raw('<br>')]} ${undefined}${null}${false}${0}</p>`;
    assert.equal(
      out.value,
      '<p title="&lt;b&gt;bold&lt;/b&gt;">&lt;b&gt;bold&lt;/b&gt; <i>&lt;b&gt;bold&lt;/b&gt;</i> &lt;b&gt;bold&lt;/b&gt;<br> 0</p>',
    );
  });

  it('isolates user text with <bdi> and clips it without splitting characters', () => {
    assert.equal(userText('evil <name>').value, '<bdi>evil &lt;name&gt;</bdi>');
    assert.equal(clip('🚀🚀🚀🚀', 3), '🚀🚀…');
    assert.equal(clip('short', 10), 'short');
    assert.equal(Array.from(clip('x'.repeat(10_000), 300)).length, 300);
  });
});

describe('panel state from a recorded run', () => {
  const run = fixture('mnist-2-epochs.jsonl');
  const finished = ofType(run, 'run_finished')[0];
  const state = panelStateFromEvents(run);

  it('ends succeeded with every epoch, its loss and accuracy', () => {
    assert.equal(state.status, 'succeeded');
    assert.equal(state.name, 'mnist');
    assert.equal(state.runId, run[0].runId);
    assert.equal(state.epochs, 2);
    assert.equal(state.epochsDone, 2);
    const epochs = ofType(run, 'epoch_finished');
    assert.deepEqual(
      state.epochRows.map((r) => [r.epoch, r.loss, r.valAccuracy]),
      epochs.map((e) => [e.epoch, e.loss, e.valAccuracy]),
    );
    assert.equal(state.lossPoints.length, ofType(run, 'progress').length);
    assert.deepEqual(state.config, { workers: 4, memoryMb: 1769, sync: 'hierarchical' });
    assert.equal(state.decision?.reason, 'fixed configuration (--workers, --memory)');
  });

  it('tracks spend, elapsed time and per-epoch cost', () => {
    assert.equal(state.spentUsd, finished.costUsd);
    assert.equal(state.elapsedS, finished.durationS);
    const costs = ofType(run, 'cost');
    assert.ok(Math.abs((state.epochRows[0].costUsd ?? 0) - costs[0].spentUsd) < 1e-12);
    assert.ok(Math.abs((state.epochRows[1].costUsd ?? 0) - (costs[1].spentUsd - costs[0].spentUsd)) < 1e-12);
  });

  it('has an ETA while running and none once finished', () => {
    assert.equal(state.etaS, undefined);
    const etas: number[] = [];
    let s = initialPanelState();
    for (const event of run) {
      s = reducePanel(s, event);
      if (event.type === 'progress') {
        assert.ok(s.etaS !== undefined && s.etaS > 0, `ETA at epoch ${event.epoch} iteration ${event.iteration}: ${s.etaS}`);
        etas.push(s.etaS);
      }
      if (s.status === 'running') assert.ok(s.elapsedS >= 0);
    }
    assert.ok(etas.at(-1)! < etas[0], 'the estimate comes down as the run goes');
  });

  it('shows the workers of the current epoch, warm in the second', () => {
    assert.deepEqual(
      state.workers.map((w) => [w.rank, w.state, w.attempts, w.memoryMb, w.backend, w.coldStart]),
      [0, 1, 2, 3].map((rank) => [rank, 'done', 1, 1769, 'wasm', false]),
    );
    const firstEpoch = stateAt(run, (e) => e.type === 'epoch_finished');
    assert.ok(firstEpoch.workers.every((w) => w.coldStart === true));
    const started = stateAt(run, (e) => e.type === 'epoch_started');
    assert.ok(started.workers.every((w) => w.state === 'waiting'));
  });

  it("shows how long a worker took to launch, when the platform measured it", () => {
    const finished = run.map((e) => (e.type === 'worker_finished' && e.rank === 0 ? { ...e, coldStart: true, launchMs: 1234 } : e));
    const s = panelStateFromEvents(finished);
    assert.equal(s.workers[0]!.launchMs, 1234);
    assert.match(renderPanel(s), /cold start in 1\.2 s/);
  });

  it('never mutates a state it was given', () => {
    let s = deepFreeze(initialPanelState({ budgetUsd: 1 }));
    for (const event of run) s = deepFreeze(reducePanel(s, event));
    assert.equal(s.status, 'succeeded');
  });

  it('ignores repeated events and events of another run', () => {
    const half = panelStateFromEvents(run.slice(0, 20));
    assert.equal(reducePanel(half, run[10]), half);
    assert.equal(reducePanel(half, { ...run[20], runId: 'someone-else' }), half);
    assert.deepEqual(panelStateFromEvents([...run.slice(0, 25), ...run.slice(15)]), state);
  });

  it('shows a run it attached to mid-way as running', () => {
    const attached = panelStateFromEvents(run.slice(10, 12));
    assert.equal(attached.status, 'running');
    assert.match(renderPanel(attached), /Epoch 1 ·|Epoch 1</);
  });

  it('keeps only sensible budget and deadline options', () => {
    assert.equal(initialPanelState({ budgetUsd: -1, deadlineS: Number.NaN }).budgetUsd, undefined);
    assert.equal(initialPanelState({ budgetUsd: -1, deadlineS: Number.NaN }).deadlineS, undefined);
    const withLimits = panelStateFromEvents(run, { budgetUsd: 0.5, deadlineS: 600 });
    assert.equal(withLimits.budgetUsd, 0.5);
    assert.equal(withLimits.deadlineS, 600);
  });
});

describe('panel state through failures', () => {
  const run = fixture('mnist-relaunch.jsonl');
  const failed = ofType(run, 'worker_failed')[0];

  it('marks a crashed worker failed, then relaunched, then done with two attempts', () => {
    const afterFailure = stateAt(run, (e) => e.type === 'worker_failed');
    const row = afterFailure.workers.find((w) => w.rank === failed.rank);
    assert.equal(row?.state, 'failed');
    assert.match(row?.lastError ?? '', /SIGKILL/);
    assert.deepEqual(
      afterFailure.workers.filter((w) => w.rank !== failed.rank).map((w) => w.state),
      ['running', 'running', 'running'],
    );

    const afterRelaunch = stateAt(run, (e) => e.type === 'worker_relaunched');
    assert.equal(afterRelaunch.workers.find((w) => w.rank === failed.rank)?.state, 'relaunched');
    assert.equal(afterRelaunch.workers.find((w) => w.rank === failed.rank)?.attempts, 2);

    const epochEnd = stateAt(run, (e) => e.type === 'epoch_finished');
    assert.deepEqual(
      epochEnd.workers.map((w) => [w.state, w.attempts]),
      [0, 1, 2, 3].map((rank) => ['done', rank === failed.rank ? 2 : 1]),
    );
    assert.equal(epochEnd.epochRows[0].relaunches, 1);
    const texts = epochEnd.log.map((e) => `${e.level}: ${e.text}`);
    assert.ok(texts.some((t) => t.startsWith('warning: Worker 2 crashed in epoch 1 (attempt 1)') && t.includes('SIGKILL')), texts.join('\n'));
    assert.ok(texts.some((t) => t.startsWith('info: Worker 2 relaunched at iteration')), texts.join('\n'));
    assert.ok(texts.some((t) => t === 'info: Checkpoint saved after epoch 1.'), texts.join('\n'));
  });

  it('follows the scheduler: every decision, the latest reason and the configuration per epoch', () => {
    const state = panelStateFromEvents(run);
    assert.equal(state.status, 'succeeded');
    assert.deepEqual(
      state.decisions.map((d) => [d.epoch, d.workers, d.memoryMb]),
      [
        [0, 4, 1769],
        [1, 2, 1024],
        [2, 4, 1769],
      ],
    );
    assert.match(state.decision?.reason ?? '', /deadline binds/);
    assert.deepEqual(
      state.epochRows.map((r) => [r.workers, r.memoryMb, r.iterations]),
      [
        [4, 1769, 125],
        [2, 1024, 125],
        [4, 1769, 125],
      ],
    );
    assert.ok(state.log.some((e) => e.text.includes('moved to 2 workers × 1,024 MB')));
    const costSum = state.epochRows.reduce((sum, r) => sum + (r.costUsd ?? 0), 0);
    assert.ok(Math.abs(costSum - ofType(run, 'cost').at(-1)!.spentUsd) < 1e-9);
  });

  it('names the backend the workers compute on, and why, under the scheduler decision', () => {
    const backend = { name: 'webgpu', reason: 'webgpu on NVIDIA H100 (nvidia hopper): its step ran at 6.20x the speed of wasm with SIMD' };
    const withBackend = run.map((e) => (e.type === 'plan' ? { ...e, backend } : e));
    const state = panelStateFromEvents(withBackend);
    assert.deepEqual(state.decision?.backend, backend);
    const html = renderPanel(state);
    assert.match(html, /data-backend="webgpu"/);
    assert.match(html, /Backend<\/strong> (<bdi>)?webgpu on NVIDIA H100 \(nvidia hopper\): its step ran at 6\.20x/);
    assert.doesNotMatch(renderPanel(panelStateFromEvents(run)), /data-backend/, 'older runs carry no backend and show none');
  });

  it('ends a failed run with its error, the stopped workers and no ETA', () => {
    const events = fixture('mnist-failed.jsonl');
    const state = panelStateFromEvents(events);
    assert.equal(state.status, 'failed');
    assert.equal(state.final?.error?.code, 'WORKER_FAILED');
    assert.equal(state.etaS, undefined);
    assert.deepEqual(
      state.workers.map((w) => w.state),
      ['stopped', 'failed', 'stopped', 'stopped'],
    );
    const last = state.log.at(-1);
    assert.equal(last?.level, 'error');
    assert.match(last?.text ?? '', /^Failed\. WORKER_FAILED: Worker 1 failed 2 times/);
  });

  it('ends a cancelled run with the epochs it finished', () => {
    const state = panelStateFromEvents(fixture('mnist-cancelled.jsonl'));
    assert.equal(state.status, 'cancelled');
    assert.equal(state.epochsDone, 1);
    assert.equal(state.epochRows.length, 1);
    assert.equal(state.etaS, undefined);
    assert.match(state.log.at(-1)?.text ?? '', /^Cancelled; the checkpoint of epoch 1 is kept/);
  });

  it('keeps the log and the chart bounded', () => {
    const base = run.slice(0, 3);
    let seq = base.length;
    const extra: RunEvent[] = [];
    for (let i = 0; i < 3 * LOSS_POINT_LIMIT; i++) {
      extra.push({ ...base[0], type: 'progress', seq: ++seq, epoch: 0, iteration: i, iterations: 3 * LOSS_POINT_LIMIT, loss: 1 / (i + 1) });
    }
    for (let i = 0; i < 2 * LOG_LIMIT; i++) {
      extra.push({ ...base[0], type: 'checkpoint', seq: ++seq, epoch: i, key: `k${i}` });
    }
    const state = panelStateFromEvents([...base, ...extra]);
    assert.ok(state.lossPoints.length <= LOSS_POINT_LIMIT, `${state.lossPoints.length} points`);
    assert.equal(state.lossPoints.at(-1)?.iteration, 3 * LOSS_POINT_LIMIT - 1, 'the latest point is kept');
    assert.equal(state.log.length, LOG_LIMIT);
    assert.equal(state.log.at(-1)?.text, `Checkpoint saved after epoch ${2 * LOG_LIMIT}.`);
  });
});

describe('panel state of a resumed run', () => {
  const run = fixture('mnist-resumed.jsonl');
  const starts = ofType(run, 'run_started');
  const resumeIndex = run.indexOf(starts[1]);
  const cancelled = ofType(run, 'run_finished')[0];

  it('picks up where the cancelled run stopped, forgetting the epoch it redoes', () => {
    assert.equal(starts[1].resumedFromEpoch, 1);
    const atResume = panelStateFromEvents(run.slice(0, resumeIndex + 1));
    assert.equal(atResume.status, 'running');
    assert.equal(atResume.resumedFromEpoch, 1);
    assert.equal(atResume.epochsDone, 1);
    assert.equal(atResume.final, undefined);
    assert.deepEqual(atResume.epochRows.map((r) => r.epoch), [0]);
    assert.ok(atResume.lossPoints.every((p) => p.epoch === 0));
    assert.equal(atResume.elapsedS, cancelled.durationS, 'the run clock carries on');
    assert.equal(atResume.spentUsd, cancelled.costUsd, 'so does the spend');
    assert.match(atResume.log.at(-1)?.text ?? '', /^Resumed from the checkpoint of epoch 1/);
  });

  it('ends with each epoch once and the resumed segment’s curve', () => {
    const state = panelStateFromEvents(run);
    const final = ofType(run, 'run_finished').at(-1)!;
    assert.equal(state.status, 'succeeded');
    assert.deepEqual(state.epochRows.map((r) => r.epoch), [0, 1]);
    assert.equal(state.elapsedS, final.durationS);
    assert.equal(state.spentUsd, final.costUsd);
    const resumedPoints = run.slice(resumeIndex).filter((e) => e.type === 'progress' && e.epoch === 1).length;
    assert.equal(state.lossPoints.filter((p) => p.epoch === 1).length, resumedPoints);
    assert.deepEqual(state.decisions.map((d) => d.epoch), [0, 1]);
  });

  it('starts clean when a client attaches at the resume', () => {
    const state = panelStateFromEvents(run.slice(resumeIndex));
    assert.equal(state.status, 'succeeded');
    assert.equal(state.epochsDone, 2);
    assert.deepEqual(state.epochRows.map((r) => r.epoch), [1]);
  });
});

/** Every `<` in the output opens or closes a tag, and every tag and attribute is one the renderer writes. */
function assertOnlyRendererMarkup(out: string): void {
  const tags = new Set(
    'section header div h2 h3 p span bdi strong button svg rect line text polyline circle title figure figcaption ul ol li dl dt dd table thead tbody tr th td main html head body meta style'.split(' '),
  );
  const tagPattern = /<(\/?)([a-zA-Z][a-zA-Z0-9]*)((?:\s+[a-zA-Z_:][-a-zA-Z0-9_:.]*(?:="[^"]*")?)*)\s*(\/?)>/g;
  const withoutStyle = out.replace(/<style>[^<]*<\/style>/, '<style></style>').replace(/^<!doctype html>/, '');
  let matched = 0;
  for (const m of withoutStyle.matchAll(tagPattern)) {
    matched++;
    assert.ok(tags.has(m[2].toLowerCase()), `unexpected element <${m[2]}>`);
    for (const a of m[3].matchAll(/\s+([^\s=]+)(?:="([^"]*)")?/g)) {
      const name = a[1].toLowerCase();
      assert.ok(!name.startsWith('on'), `event handler attribute ${name}`);
      assert.notEqual(name, 'style', 'inline style');
      assert.notEqual(name, 'href');
      assert.notEqual(name, 'src');
    }
  }
  assert.equal(matched, (withoutStyle.match(/</g) ?? []).length, 'every "<" is a tag the renderer wrote');
}

const HOSTILE = '<script>alert(1)</script>"onload="alert(2)\'</svg><img src=x onerror=alert(3)>&amp;';

function hostileRun(): RunEvent[] {
  return fixture('mnist-relaunch.jsonl').map((e): RunEvent => {
    const runId = `${HOSTILE}-id`;
    switch (e.type) {
      case 'run_started':
        return { ...e, runId, name: `${HOSTILE} \u202Egnp.exe ${'n'.repeat(2000)} 模型`, platform: `${HOSTILE}platform` };
      case 'plan':
        return { ...e, runId, reason: `${HOSTILE} reason` };
      case 'worker_failed':
        return { ...e, runId, message: `${HOSTILE} message` };
      case 'worker_finished':
        return { ...e, runId, backend: `${HOSTILE}backend` };
      case 'run_finished':
        return { ...e, runId, status: 'failed', error: { code: `${HOSTILE}code`, message: `${HOSTILE} error` } };
      default:
        return { ...e, runId };
    }
  });
}

describe('panel renderer', () => {
  const done = panelStateFromEvents(fixture('mnist-2-epochs.jsonl'));
  const relaunchEvents = fixture('mnist-relaunch.jsonl');
  const live = stateAt(relaunchEvents, (e) => e.type === 'progress' && e.epoch === 2, { budgetUsd: 0.05, deadlineS: 60 });

  it('shows a finished run: status, epochs, accuracy, workers and spend', () => {
    const out = renderPanel(done);
    assert.match(out, /<section class="smlt-panel" data-status="succeeded"/);
    assert.match(out, />Succeeded</);
    assert.match(out, /All 2 epochs done/);
    assert.match(out, />91\.35%</);
    assert.match(out, />0\.309</, 'last epoch loss');
    assert.match(out, /\$0\.0313/);
    assert.match(out, /4 × 1,769 MB/);
    assert.match(out, /fixed configuration \(--workers, --memory\)/);
    assert.match(out, /<bdi>wasm<\/bdi> <span class="smlt-muted">· warm<\/span>/);
    assert.doesNotMatch(out, /<button/, 'no buttons unless asked for');
    assertOnlyRendererMarkup(out);
  });

  it('is accessible: a labelled progressbar, a chart with a text alternative, a table with headers', () => {
    const out = renderPanel(done);
    const bar = out.match(/<div class="smlt-progressbar" role="progressbar"[^>]*>/)?.[0] ?? '';
    assert.match(bar, /aria-label="Training progress"/);
    assert.match(bar, /aria-valuemin="0"/);
    assert.match(bar, /aria-valuemax="100"/);
    assert.match(bar, /aria-valuenow="100"/);
    assert.match(bar, /aria-valuetext="100%: All 2 epochs done"/);
    const description = 'Training loss from 2.166 to 0.309 over 2 epochs; held-out accuracy from 89.15% to 91.35%.';
    assert.equal(describeTrend(done), description);
    assert.ok(out.includes(`role="img" aria-label="${description}"`));
    assert.ok(out.includes(`<title>${description}</title>`));
    assert.match(out, /viewBox="0 0 \d+ \d+" width="100%"/);
    assert.match(out, /<table class="smlt-table">\s*<thead><tr><th scope="col">Worker<\/th>/);
    assert.equal((out.match(/<th scope="row">/g) ?? []).length, 4);
  });

  it('shows a live run: progress, ETA, budget and deadline bars, the buttons asked for', () => {
    const out = renderPanel(live, { cancelButton: true, reportButton: true, width: 320 });
    assert.match(out, /Epoch 3 of 3/);
    assert.match(out, /iteration \d+ of 125/);
    assert.match(out, /about \d+ s left/);
    const now = Number(out.match(/aria-valuenow="([\d.]+)"/)?.[1]);
    assert.ok(now > 66.6 && now < 100, `progress ${now}`);
    assert.match(out, /<button type="button" class="smlt-button" data-action="cancel">Cancel run<\/button>/);
    assert.doesNotMatch(out, /data-action="open-report"/, 'no report before the run ends');
    assert.match(out, /of \$0\.05/);
    assert.match(out, /of the budget/);
    assert.match(out, /of 1 min 00 s/);
    assert.match(out, /projected \d+ s: on time/);
    assert.match(out, /Held-out|held out/);
    assert.match(out, /Training loss from 2\.\d+ to 0\.308 over 2\.\d+ of 3 epochs so far/);
    assert.match(renderPanel(done, { cancelButton: true, reportButton: true }), /data-action="open-report"/);
    assert.doesNotMatch(renderPanel(done, { cancelButton: true }), /data-action="cancel"/, 'nothing to cancel');
    assertOnlyRendererMarkup(out);
  });

  it('shows only the spend when there is no budget, and the elapsed time without a deadline', () => {
    const out = renderPanel(stateAt(relaunchEvents, (e) => e.type === 'progress' && e.epoch === 2));
    assert.doesNotMatch(out, /of the budget/);
    assert.match(out, /\$0\.0202/);
    assert.match(out, /no deadline set/);
  });

  it('renders an empty state before the run starts', () => {
    const out = renderPanel(initialPanelState());
    assert.match(out, />Starting</);
    assert.match(out, /Waiting for the run to start/);
    assert.match(out, /The curve appears after the first iterations/);
    assert.doesNotMatch(out, /<svg[^>]*role="img"/);
    assertOnlyRendererMarkup(out);
  });

  it('shows a failed run’s error', () => {
    const out = renderPanel(panelStateFromEvents(fixture('mnist-failed.jsonl')));
    assert.match(out, /role="alert"/);
    assert.match(out, /WORKER_FAILED/);
    assert.match(out, /run `smlt resume`/);
    assert.match(out, /data-state="failed"/);
  });

  it('escapes hostile names, reasons, messages and backends everywhere', () => {
    const state = panelStateFromEvents(hostileRun());
    for (const out of [renderPanel(state, { cancelButton: true, reportButton: true, maxLogEntries: 50 }), renderReportPage(state)]) {
      assert.doesNotMatch(out, /<script|<img|<\/svg><img/i);
      assert.ok(out.includes('&lt;script&gt;alert(1)&lt;/script&gt;&quot;onload=&quot;alert(2)&#39;&lt;/svg&gt;&lt;img src=x onerror=alert(3)&gt;&amp;amp;'));
      for (const where of [' reason', ' message', 'code', ' error', 'platform']) {
        assert.ok(out.includes(`onerror=alert(3)&gt;&amp;amp;${where}`), `escaped${where}`);
      }
      assert.ok(out.includes('<td><bdi>&lt;script&gt;alert(1)&lt;/script&gt;&quot;onload=&quot;alert…</bdi>'), 'escaped, clipped backend');
      assertOnlyRendererMarkup(out);
      // A right-to-left override could make "gnp.exe" read "exe.png"; it is dropped, and the
      // text keeps its logical order.
      assert.doesNotMatch(out, /[\u202A-\u202E\u2066-\u2069]/);
      assert.ok(out.includes('&amp;amp; gnp.exe nnn'));
    }
    const heading = renderPanel(state).match(/<h2 class="smlt-name"><bdi>([^<]*)<\/bdi><\/h2>/)?.[1] ?? '';
    assert.ok(heading.length < 600 && heading.endsWith('…'), 'a 2,000-character name is clipped');
  });
});

describe('report page', () => {
  const events = fixture('mnist-relaunch.jsonl');
  const report = JSON.parse(readFileSync(new URL('mnist-relaunch.report.json', fixtures), 'utf8')) as RunReport;
  const state = panelStateFromEvents(events);

  it('is one document with a strict CSP, no scripts and nothing to fetch', () => {
    const page = renderReportPage(state, report);
    assert.ok(page.startsWith('<!doctype html>'));
    assert.ok(
      page.includes(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`),
    );
    assert.doesNotMatch(page, /<script|<link|<img|@import|url\(/i);
    assert.match(page, /<title>SMLT run mnist: succeeded<\/title>/);
    assert.match(page, /--smlt-fg/);
    assertOnlyRendererMarkup(page);
  });

  it('has the per-epoch table and the scheduler decisions', () => {
    const page = renderReportPage(state, report);
    for (const text of ['Epochs', 'Scheduler decisions', '89.15%', '91.45%', '91.90%', '1,024 MB', 'probe: 2 × 1024 MB', 'deadline binds', '/home/ada/notebooks/mnist.ipynb']) {
      assert.ok(page.includes(text), text);
    }
    assert.equal((page.match(/<td class="smlt-num" data-label="Accuracy">/g) ?? []).length, 3);
    assert.match(page, /data-fit="narrow"/);
    assert.match(page, /data-fit="wide"/);
  });

  it('works from the events alone', () => {
    const page = renderReportPage(state);
    assert.equal((page.match(/<td class="smlt-num" data-label="Accuracy">/g) ?? []).length, 3);
    assert.match(page, /Scheduler decisions/);
  });
});
