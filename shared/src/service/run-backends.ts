/**
 * Where a run's workers and state live: `local` (worker processes on this machine, a folder
 * store `.smlt/` next to the notebook) or `aws` (Lambda functions and an S3 store, from the
 * project's smlt.config.json). The orchestrator runs in this process either way; outputs (the
 * model and report) always come back next to the notebook.
 */
import { join } from 'node:path';
import { LambdaPlatform } from '../backends/aws/lambda-platform.js';
import { type AwsSettings, awsSettingsFor, readConfig } from '../backends/aws/config.js';
import { SmltError } from '../errors.js';
import { LocalPlatform } from '../backends/local/local-platform.js';
import type { ObjectStore, Platform, StoreLocation } from '../backends/ports.js';
import { openStore } from '../backends/open-store.js';
import type { IndexedRun } from './run-index.js';

export type BackendName = 'local' | 'aws';

/**
 * The smallest memory size the scheduler gives a local worker: a worker process with tfjs resident
 * is killed above its memory size (RSS), and sizing's footprint is tuned for Lambda's runtime.
 */
export const LOCAL_MIN_MEMORY_MB = 512;
/** Lambda's runtime with the bundled worker needs about as much as a local worker. */
export const AWS_MIN_MEMORY_MB = 512;

export interface RunBackend {
  readonly name: BackendName;
  readonly platform: Platform;
  /** The smallest memory size the scheduler may choose on this backend. */
  readonly minMemoryMb: number;
  /** The run store for a notebook in `notebookDir`, how workers open it, and what to record in the run index. */
  storeFor(notebookDir: string): StoreLocation;
  /** Run-index fields that let another process find this backend again. */
  readonly indexFields: Pick<IndexedRun, 'backend' | 'configFile'>;
  /**
   * The Redis channel `--channel redis` means here: `private` (a redis-server this process starts)
   * locally; on AWS the configured ElastiCache endpoint, if any.
   */
  readonly redis?: 'private' | string;
}

export class RunBackends {
  private readonly local: RunBackend;
  private readonly aws = new Map<string, Promise<RunBackend>>();

  constructor(options: { timeLimitMs?: number } = {}) {
    this.local = {
      name: 'local',
      platform: new LocalPlatform({ timeLimitMs: options.timeLimitMs }),
      minMemoryMb: LOCAL_MIN_MEMORY_MB,
      storeFor: (notebookDir) => ({ kind: 'folder', root: join(notebookDir, '.smlt') }),
      indexFields: { backend: 'local' },
      redis: 'private',
    };
  }

  /** The backend `name` for a notebook in `notebookDir` (aws reads the nearest smlt.config.json). */
  async forNotebook(name: BackendName | undefined, notebookDir: string): Promise<RunBackend> {
    if (name !== 'aws') return this.local;
    const { file } = await awsSettingsFor(notebookDir);
    return this.awsFrom(file);
  }

  /** The backend a recorded run used, to resume it. */
  async forRun(run: IndexedRun): Promise<RunBackend> {
    return run.backend === 'aws' && run.configFile ? this.awsFrom(run.configFile) : this.local;
  }

  async close(): Promise<void> {
    const backends = [this.local, ...(await Promise.all([...this.aws.values()].map((b) => b.catch(() => undefined))))];
    await Promise.all(backends.map((b) => b?.platform.close()));
  }

  private awsFrom(configFile: string): Promise<RunBackend> {
    let backend = this.aws.get(configFile);
    if (!backend) {
      backend = readConfig(configFile).then(({ aws }) => {
        if (!aws) throw new SmltError('CONFIG_INVALID', `${configFile} has no "aws" section any more: run \`smlt deploy\` again.`);
        return awsBackend(aws, configFile);
      });
      backend.catch(() => this.aws.delete(configFile));
      this.aws.set(configFile, backend);
    }
    return backend;
  }
}

function awsBackend(settings: AwsSettings, configFile: string): RunBackend {
  const location: StoreLocation = {
    kind: 's3',
    root: settings.bucket,
    prefix: settings.prefix,
    region: settings.region,
    ...(settings.endpoints?.s3 ? { endpoint: settings.endpoints.s3 } : {}),
  };
  return {
    name: 'aws',
    platform: new LambdaPlatform({ settings }),
    minMemoryMb: AWS_MIN_MEMORY_MB,
    storeFor: () => location,
    indexFields: { backend: 'aws', configFile },
    ...(settings.channel ? { redis: settings.channel.url } : {}),
  };
}

/** Where a recorded run's state is (runs indexed before the AWS backend recorded only a folder). */
export function locationOfRun(run: IndexedRun): StoreLocation {
  return run.store ?? { kind: 'folder', root: run.storeRoot ?? '' };
}

/** Opens a recorded run's store. */
export function storeOfRun(run: IndexedRun): ObjectStore {
  return openStore(locationOfRun(run));
}
