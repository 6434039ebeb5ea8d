/**
 * Backend-aware memory sizing (DESIGN.md, "Runtime facts"): what a worker needs in memory for a
 * model, a per-worker batch and a backend profile, and which memory sizes can make it faster.
 * Pure functions; the scheduler uses them to build its candidate configurations.
 */
export * from './profiles.js';
export * from './memory.js';
