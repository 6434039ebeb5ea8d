/**
 * What a sweep records, in order, one JSON object per line in its folder (sweep-store.ts): the
 * CLI prints them, `smlt report` and the panels replay them. Browser-safe (types only).
 */
import type { Values } from '../capture/search-space.js';
import type { SweepForecast } from './scheduler.js';

export type SweepStatus = 'running' | 'succeeded' | 'stopped-budget' | 'stopped-deadline' | 'cancelled' | 'failed';

export interface TrialSummary {
  trial: number;
  values: Values;
  runId?: string;
  /** Epochs trained so far and the last held-out metric. */
  epochs: number;
  metric?: number;
  costUsd: number;
  status: 'waiting' | 'training' | 'stopped' | 'promoted' | 'failed' | 'best';
  error?: string;
}

interface Base {
  seq: number;
  at: string;
}

export type SweepEvent = Base &
  (
    | {
        type: 'sweep_started';
        sweepId: string;
        name: string;
        notebook?: string;
        trials: Array<{ trial: number; values: Values }>;
        rungs: number[];
        eta: number;
        objective: { metric: 'accuracy' | 'loss'; direction: 'maximize' | 'minimize' };
        constraints: { budgetUsd?: number; deadlineS?: number };
        forecast: SweepForecast;
        resumed?: boolean;
      }
    | { type: 'trial_started'; trial: number; runId: string; fromEpochs: number; toEpochs: number; kind: 'start' | 'promote'; reason: string }
    | {
        type: 'trial_finished';
        trial: number;
        runId?: string;
        rung: number;
        epochs: number;
        metric?: number;
        costUsd: number;
        durationS: number;
        outcome: 'rung' | 'failed' | 'interrupted';
        error?: string;
      }
    | { type: 'decision'; reason: string }
    | {
        type: 'sweep_finished';
        status: Exclude<SweepStatus, 'running'>;
        reason: string;
        costUsd: number;
        durationS: number;
        best?: { trial: number; runId: string; values: Values; metric: number; epochs: number };
        outDir?: string;
        modelPath?: string;
        settingsPath?: string;
      }
  );

export type SweepEventOf<T extends SweepEvent['type']> = Extract<SweepEvent, { type: T }>;
