/**
 * A seeded simulator of AWS Lambda + S3 for SMLT training jobs (cloud.ts), paper-scale workloads
 * (workloads.ts), and a runner that drives the real planner or a fixed configuration through a
 * whole job (run.ts). No AWS, no I/O, no wall clock: the benchmark and the planner's tests use it.
 */
export * from './cloud.js';
export * from './random.js';
export * from './run.js';
export * from './workloads.js';
