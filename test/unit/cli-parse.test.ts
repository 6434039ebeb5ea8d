import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from 'commander';
import { formatDuration, parseDuration, parseObjective, parseUsd, parseWorkers } from '@smlt/shared/cli/parse';

describe('command-line value parsers', () => {
  it('reads durations in seconds, minutes, hours, or plain seconds', () => {
    assert.equal(parseDuration('90s'), 90);
    assert.equal(parseDuration('20m'), 1200);
    assert.equal(parseDuration('1h'), 3600);
    assert.equal(parseDuration('1.5h'), 5400);
    assert.equal(parseDuration('600'), 600);
    assert.equal(parseDuration('45.5'), 45.5);
    assert.equal(parseDuration(' 2M '), 120);
  });

  it('rejects bad durations naming the flag', () => {
    for (const bad of ['', 'abc', '0', '0s', '-5m', '5x', '1h30m', 'm', '1e3', 'Infinity']) {
      assert.throws(() => parseDuration(bad), (err: unknown) => err instanceof InvalidArgumentError && /--deadline/.test(err.message), bad);
    }
    assert.throws(() => parseDuration('soon', '--limit'), /--limit/);
  });

  it('reads budgets, objectives and worker counts', () => {
    assert.equal(parseUsd('1.50'), 1.5);
    assert.equal(parseUsd('$2'), 2);
    assert.equal(parseUsd('.25'), 0.25);
    for (const bad of ['0', '-1', 'abc', '1,50', '']) assert.throws(() => parseUsd(bad), /--budget/, bad);
    assert.equal(parseObjective('time'), 'time');
    assert.equal(parseObjective('cost'), 'cost');
    assert.throws(() => parseObjective('speed'), /--objective/);
    assert.equal(parseWorkers('auto'), 'auto');
    assert.equal(parseWorkers('8'), 8);
    for (const bad of ['0', '2.5', '1001', 'many']) assert.throws(() => parseWorkers(bad), /--workers/, bad);
  });

  it('formats durations for people', () => {
    assert.equal(formatDuration(4.25), '4.3 s');
    assert.equal(formatDuration(42), '42 s');
    assert.equal(formatDuration(200), '3 min 20 s');
    assert.equal(formatDuration(3900), '1 h 5 min');
  });
});
