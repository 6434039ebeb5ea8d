/** Where a run's keys live (shared/src/run/layout.ts): each drive exchanges apart from the others. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { markerIteration, runKeys } from '@smlt/shared/run/layout';

it("scopes every exchange key to the drive, under the run's one sync root", () => {
  const dead = runKeys('r1', 'aaaa');
  const next = runKeys('r1', 'bbbb');
  const scoped = (k: ReturnType<typeof runKeys>) => [k.syncPrefix(3), k.marker(3, 1, 7), k.markersOf(3, 1), k.markersPrefix(3), k.midEpochState(3, 7)];
  for (const [a, b] of scoped(dead).map((key, i) => [key, scoped(next)[i]!])) {
    assert.notEqual(a, b, 'a worker the dead drive left running cannot write where the next drive reads');
    assert.ok(a.startsWith(dead.syncRoot) && b.startsWith(next.syncRoot) && dead.syncRoot === next.syncRoot, 'one root, so resume and gc clear every drive');
    assert.ok(a.startsWith(dead.syncPrefix(3)), `${a} is under its epoch's prefix, so the epoch's cleanup removes it`);
  }
  assert.equal(dead.checkpoint(4), next.checkpoint(4), 'checkpoints are the run\'s, not a drive\'s');
  assert.equal(markerIteration(dead.marker(3, 1, 7)), 7);
});
