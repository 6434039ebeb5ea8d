/**
 * The panel's training-curve chart, read from the SVG `renderPanel` draws: the x-axis while the
 * first epoch runs, where iteration losses sit on it, and the one colour held-out accuracy has in
 * the inline panel and in the report page.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PANEL_CSS, type PanelState, panelStateFromEvents, renderPanel, renderReportPage } from '@smlt/shared/panel/index';
import type { RunEvent, RunEventBody } from '@smlt/shared/run/events';

const RUN_ID = '20261125-102524-chart1';

/** A run's events from their bodies: numbered from 1, a second apart. */
function events(...bodies: RunEventBody[]): RunEvent[] {
  return bodies.map((body, i) => ({ v: 1, seq: i + 1, time: new Date(Date.UTC(2026, 10, 25, 10, 0, i)).toISOString(), runId: RUN_ID, ...body }) as RunEvent);
}

function started(epochs: number): RunEventBody {
  return { type: 'run_started', name: 'mnist', paramCount: 101770, trainSamples: 8000, holdoutSamples: 2000, epochs, platform: 'local', store: 'file:///tmp/.smlt' };
}

function planned(epoch: number, iterations: number): RunEventBody[] {
  return [
    { type: 'plan', epoch, workers: 4, memoryMb: 1769, iterations, sync: 'hierarchical', perWorkerBatch: 16, reason: 'fixed configuration' },
    { type: 'epoch_started', epoch, workers: 4, memoryMb: 1769 },
  ];
}

function progress(epoch: number, iteration: number, iterations: number, loss: number): RunEventBody {
  return { type: 'progress', epoch, iteration, iterations, loss };
}

interface Chart {
  /** The plot's left and right edges (the x-axis line). */
  axis: { x1: number; x2: number };
  /** The per-iteration loss line's points; undefined when it is not drawn. */
  iterations?: Array<[number, number]>;
  epochLines: number[];
}

/** The first chart SVG of a rendered panel. */
function chartOf(state: PanelState, width = 640): Chart {
  const svg = renderPanel(state, { width }).match(/<svg class="smlt-chart-svg"[\s\S]*?<\/svg>/)?.[0];
  assert.ok(svg, 'the chart is drawn');
  const axis = svg.match(/<line class="smlt-axis" x1="([\d.]+)" x2="([\d.]+)"/);
  assert.ok(axis, 'the chart has an x-axis');
  const points = svg.match(/<polyline class="smlt-series-iter" points="([^"]*)"/)?.[1];
  return {
    axis: { x1: Number(axis[1]), x2: Number(axis[2]) },
    ...(points !== undefined ? { iterations: points.split(' ').map((p) => p.split(',').map(Number) as [number, number]) } : {}),
    epochLines: [...svg.matchAll(/<line class="smlt-epoch-line" x1="([\d.]+)"/g)].map((m) => Number(m[1])),
  };
}

describe('training curve', () => {
  it('draws the first epoch’s iteration losses across the chart while it runs, even in a 200-epoch run', () => {
    const losses = [2.3, 1.4, 0.9, 0.6];
    const iterationsDone = [1, 30, 60, 90];
    const head = [started(200), ...planned(0, 125)];
    for (let known = 2; known <= losses.length; known++) {
      const state = panelStateFromEvents(events(...head, ...iterationsDone.slice(0, known).map((j, i) => progress(0, j, 125, losses[i]))));
      assert.equal(state.status, 'running');
      const chart = chartOf(state);
      assert.ok(chart.iterations, `a loss line once ${known} iteration losses are known`);
      assert.equal(chart.iterations.length, known);
      const span = chart.iterations.at(-1)![0] - chart.iterations[0][0];
      const plotWidth = chart.axis.x2 - chart.axis.x1;
      const expected = (iterationsDone[known - 1] - iterationsDone[0]) / 125;
      assert.ok(Math.abs(span / plotWidth - expected) < 0.01, `${known} losses span ${span} of the ${plotWidth} px plot, not ${expected} of it`);
      assert.deepEqual(chart.epochLines, [], 'the x-axis is the epoch in progress, one band');
    }
  });

  it('widens the x-axis as epochs start, to every planned epoch once the run has succeeded', () => {
    const body = [started(3), ...planned(0, 4), progress(0, 1, 4, 2), progress(0, 4, 4, 1)];
    const epoch2 = [{ type: 'epoch_finished', epoch: 0, durationS: 2, loss: 1.5 } as RunEventBody, ...planned(1, 4), progress(1, 2, 4, 0.8)];
    assert.equal(chartOf(panelStateFromEvents(events(...body, ...epoch2))).epochLines.length, 1, 'epochs 1 and 2');
    const finished = [
      { type: 'epoch_finished', epoch: 1, durationS: 2, loss: 0.8 },
      ...planned(2, 4),
      { type: 'epoch_finished', epoch: 2, durationS: 2, loss: 0.5 },
      { type: 'run_finished', status: 'succeeded', durationS: 6, costUsd: 0.01, metrics: { loss: 0.5 } },
    ] as RunEventBody[];
    assert.equal(chartOf(panelStateFromEvents(events(...body, ...epoch2, ...finished))).epochLines.length, 2, 'all 3 epochs');
  });

  it('starts the iteration line at the start of the x-axis: the first iteration’s loss is the untrained model’s', () => {
    const state = panelStateFromEvents(
      events(started(2), ...planned(0, 4), progress(0, 1, 4, 2.3), progress(0, 2, 4, 1.9), progress(0, 3, 4, 1.6)),
    );
    const chart = chartOf(state);
    assert.ok(chart.iterations && chart.iterations.length === 3);
    assert.equal(chart.iterations[0][0], chart.axis.x1, 'iteration 1 of epoch 1 is drawn at the start of the x-axis');
    const quarter = (chart.axis.x2 - chart.axis.x1) / 4;
    assert.ok(Math.abs(chart.iterations[2][0] - (chart.axis.x1 + 2 * quarter)) <= 0.1, 'iteration 3 of 4 after two of the epoch’s 4 steps');

    const second = panelStateFromEvents(
      events(started(2), ...planned(0, 4), progress(0, 1, 4, 2.3), { type: 'epoch_finished', epoch: 0, durationS: 2, loss: 2 }, ...planned(1, 4), progress(1, 1, 4, 1.2)),
    );
    const both = chartOf(second);
    assert.equal(both.iterations?.[1][0], both.epochLines[0], 'the next epoch’s first iteration starts at its epoch line');
  });
});

describe('held-out accuracy colour', () => {
  const ACCURACY_RULES = ['.smlt-key-acc', '.smlt-tick-acc', '.smlt-series-acc', '.smlt-dot-acc'];

  /** The declarations of the top-level rules for exactly `selector` in a stylesheet, in order. */
  function declarations(css: string, selector: string): Map<string, string> {
    const bodies = [...css.matchAll(new RegExp(`(?:^|\\n)${selector.replace(/[.-]/g, '\\$&')} \\{([^}]*)\\}`, 'g'))].map((m) => m[1]);
    assert.ok(bodies.length > 0, `a rule for ${selector}`);
    const pairs = bodies.flatMap((body) => body.split(';').filter((d) => d.includes(':')));
    return new Map(pairs.map((d) => d.split(/:(.*)/s).slice(0, 2).map((part) => part.trim()) as [string, string]));
  }

  it('is one colour, defined once from --smlt-success, in the inline panel and in the report page', () => {
    const definitions = [...PANEL_CSS.matchAll(/--smlt-accuracy:\s*([^;]+);/g)].map((m) => m[1].trim());
    assert.deepEqual(definitions, ['var(--smlt-success)'], 'one definition, from the colour every host maps to its green');
    assert.equal(declarations(PANEL_CSS, '.smlt-panel').get('--smlt-accuracy'), 'var(--smlt-success)', 'on the panel, out of hosts’ reach');
    for (const selector of ACCURACY_RULES) {
      const colours = [...declarations(PANEL_CSS, selector)].filter(([name, value]) => ['background', 'fill', 'stroke'].includes(name) && value !== 'none' && value !== 'var(--smlt-bg)');
      assert.deepEqual(colours.map(([, value]) => value), ['var(--smlt-accuracy)'], selector);
    }

    const withAccuracy = panelStateFromEvents(
      events(started(2), ...planned(0, 4), { type: 'epoch_finished', epoch: 0, durationS: 2, loss: 2, valAccuracy: 0.8 }, ...planned(1, 4), { type: 'epoch_finished', epoch: 1, durationS: 2, loss: 1, valAccuracy: 0.9 }),
    );
    const page = renderReportPage(withAccuracy);
    const pageCss = page.match(/<style>([\s\S]*)<\/style>/)?.[1] ?? '';
    assert.ok(pageCss.startsWith(PANEL_CSS), 'the report page uses the panel’s stylesheet');
    assert.doesNotMatch(pageCss.slice(PANEL_CSS.length), /-acc\b|--smlt-accuracy|--smlt-accent-2/, 'and colours accuracy nowhere else');
    for (const drawn of ['smlt-series-acc', 'smlt-dot-acc', 'smlt-key-acc']) {
      assert.ok(page.includes(`class="${drawn}"`) || page.includes(`smlt-key ${drawn}`), `${drawn} in the report page`);
      assert.ok(renderPanel(withAccuracy).includes(drawn), `${drawn} in the panel`);
    }
  });
});
