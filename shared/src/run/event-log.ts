// The run's event log: every event numbered, stored under the run, and handed to its followers.
import type { ObjectStore } from '../backends/ports.js';
import { runKeys } from './layout.js';
import type { RunEvent, RunEventBody } from './events.js';

/**
 * Numbers a run's events, stores each one under `runs/<id>/events/`, and hands it to the
 * listeners. Writes are chained, so the store holds them in order; `flush` waits for them.
 * After a write fails (a full disk) no later event is stored: the stored log stays gapless, and
 * a resume numbers on from its last event.
 */
export class EventLog {
  private writes: Promise<void> = Promise.resolve();
  private writeError: unknown;

  constructor(
    private readonly store: ObjectStore,
    private readonly runId: string,
    private seq: number,
    private readonly listeners: Array<(event: RunEvent) => void>,
    private readonly now: () => Date = () => new Date(),
  ) {}

  emit(body: RunEventBody): RunEvent {
    const event = { v: 1, seq: ++this.seq, time: this.now().toISOString(), runId: this.runId, ...body } as RunEvent;
    const key = runKeys(this.runId).event(event.seq);
    this.writes = this.writes.then(async () => {
      if (this.writeError) return;
      await this.store.put(key, JSON.stringify(event)).catch((err: unknown) => {
        this.writeError = err;
      });
    });
    for (const listener of this.listeners) listener(event);
    return event;
  }

  /** Waits until every event is stored; throws the write error that stopped the log, if any. */
  async flush(): Promise<void> {
    await this.writes;
    if (this.writeError) throw this.writeError;
  }
}

/** Reads a run's stored events, in order, from `fromSeq` (exclusive). */
export async function readEvents(store: ObjectStore, runId: string, fromSeq = 0): Promise<RunEvent[]> {
  const keys = await store.list(runKeys(runId).eventsPrefix);
  const events: RunEvent[] = [];
  for (const key of keys) {
    const seq = Number(key.slice(key.lastIndexOf('/') + 1, -'.json'.length));
    if (!(seq > fromSeq)) continue;
    const bytes = await store.get(key);
    if (bytes) events.push(JSON.parse(Buffer.from(bytes).toString('utf8')) as RunEvent);
  }
  return events;
}
