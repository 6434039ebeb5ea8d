/**
 * The worker functions on Lambda: one function per memory size, because memory (and with it the
 * CPU share) is a function setting, not an invocation setting. A function is created the first
 * time the scheduler asks for its memory size, updated when the worker code or settings changed,
 * and then reused; `smlt destroy` deletes them all.
 */
import {
  CreateFunctionCommand,
  DeleteFunctionCommand,
  GetFunctionCommand,
  type LambdaClient,
  type FunctionConfiguration,
  ResourceNotFoundException,
  UpdateFunctionCodeCommand,
  UpdateFunctionConfigurationCommand,
  paginateListFunctions,
  waitUntilFunctionActiveV2,
  waitUntilFunctionUpdatedV2,
} from '@aws-sdk/client-lambda';
import { createRequire } from 'node:module';
import { SmltError, errorMessage } from '../../errors.js';
import type { AwsSettings } from './config.js';

/** The deployment package: the bundled worker zip and its SHA-256 as Lambda reports `CodeSha256`. */
export interface WorkerCode {
  zip: Uint8Array;
  codeSha256: string;
}

/** The handler string inside the bundle (`index.mjs` exporting `handler`). */
export const WORKER_HANDLER = 'index.handler';

/** What deploy did to one function. */
export interface FunctionChange {
  name: string;
  memoryMb: number;
  action: 'created' | 'code-updated' | 'config-updated' | 'unchanged';
}

/** Waiters poll the control plane; a new function becomes Active in seconds. */
const WAIT_S = 120;

export class WorkerFunctions {
  private readonly ready = new Map<number, Promise<FunctionChange>>();

  constructor(
    private readonly client: LambdaClient,
    private readonly settings: AwsSettings,
    /** The worker code, loaded only when a function must be created or updated. */
    private readonly code: () => Promise<WorkerCode> = loadWorkerBundle,
  ) {}

  nameOf(memoryMb: number): string {
    return `${this.settings.functionPrefix}-${memoryMb}`;
  }

  /** The function for `memoryMb`, created or brought up to date once per process. */
  async ensure(memoryMb: number): Promise<string> {
    await this.deploy(memoryMb);
    return this.nameOf(memoryMb);
  }

  /** Creates or updates the function for `memoryMb`; a second call in this process is free. */
  deploy(memoryMb: number): Promise<FunctionChange> {
    let pending = this.ready.get(memoryMb);
    if (!pending) {
      pending = this.createOrUpdate(memoryMb);
      // A failure is not cached: the next call tries again (e.g. after the user fixes the role).
      pending.catch(() => this.ready.delete(memoryMb));
      this.ready.set(memoryMb, pending);
    }
    return pending;
  }

  /** Every worker function of this project (by name prefix), with its memory size. */
  async list(): Promise<{ name: string; memoryMb: number }[]> {
    const found: { name: string; memoryMb: number }[] = [];
    const pattern = new RegExp(`^${escapeRegExp(this.settings.functionPrefix)}-(\\d+)$`);
    for await (const page of paginateListFunctions({ client: this.client }, {})) {
      for (const fn of page.Functions ?? []) {
        const match = pattern.exec(fn.FunctionName ?? '');
        if (match) found.push({ name: fn.FunctionName!, memoryMb: Number(match[1]) });
      }
    }
    return found.sort((a, b) => a.memoryMb - b.memoryMb);
  }

  /** Deletes every worker function of this project; returns their names. */
  async destroy(): Promise<string[]> {
    const functions = await this.list();
    for (const fn of functions) {
      await aws(`delete function ${fn.name}`, () => this.client.send(new DeleteFunctionCommand({ FunctionName: fn.name })));
      this.ready.delete(fn.memoryMb);
    }
    return functions.map((fn) => fn.name);
  }

  private async createOrUpdate(memoryMb: number): Promise<FunctionChange> {
    const name = this.nameOf(memoryMb);
    const current = await this.current(name);
    const code = await this.code();
    if (!current) {
      await aws(`create function ${name}`, () =>
        this.client.send(
          new CreateFunctionCommand({
            FunctionName: name,
            Role: this.role(),
            Runtime: this.settings.runtime,
            Handler: WORKER_HANDLER,
            Architectures: [this.settings.architecture],
            MemorySize: memoryMb,
            Timeout: this.settings.timeoutS,
            Code: { ZipFile: code.zip },
            Description: 'SMLT worker: one rank of data-parallel training (created by smlt deploy)',
            Environment: { Variables: this.environment() },
            ...this.vpcConfig(),
          }),
        ),
      );
      await this.waitActive(name);
      return { name, memoryMb, action: 'created' };
    }
    let action: FunctionChange['action'] = 'unchanged';
    if (current.CodeSha256 !== code.codeSha256 || current.Architectures?.[0] !== this.settings.architecture) {
      await aws(`update the code of ${name}`, () =>
        this.client.send(new UpdateFunctionCodeCommand({ FunctionName: name, ZipFile: code.zip, Architectures: [this.settings.architecture] })),
      );
      await this.waitUpdated(name);
      action = 'code-updated';
    }
    if (!this.configMatches(current, memoryMb)) {
      await aws(`update the settings of ${name}`, () =>
        this.client.send(
          new UpdateFunctionConfigurationCommand({
            FunctionName: name,
            MemorySize: memoryMb,
            Timeout: this.settings.timeoutS,
            Runtime: this.settings.runtime,
            Handler: WORKER_HANDLER,
            Environment: { Variables: this.environment() },
            ...(this.settings.role ? { Role: this.settings.role } : {}),
            ...this.vpcConfig(),
          }),
        ),
      );
      await this.waitUpdated(name);
      if (action === 'unchanged') action = 'config-updated';
    }
    return { name, memoryMb, action };
  }

  private async current(name: string): Promise<FunctionConfiguration | undefined> {
    try {
      const answer = await this.client.send(new GetFunctionCommand({ FunctionName: name }));
      return answer.Configuration;
    } catch (err) {
      if (err instanceof ResourceNotFoundException) return undefined;
      throw awsError(`look up function ${name}`, err);
    }
  }

  private configMatches(current: FunctionConfiguration, memoryMb: number): boolean {
    const env = current.Environment?.Variables ?? {};
    const wanted = this.environment();
    return (
      current.MemorySize === memoryMb &&
      current.Timeout === this.settings.timeoutS &&
      current.Runtime === this.settings.runtime &&
      current.Handler === WORKER_HANDLER &&
      (!this.settings.role || current.Role === this.settings.role) &&
      sameIds(current.VpcConfig?.SubnetIds, this.settings.channel?.subnetIds) &&
      sameIds(current.VpcConfig?.SecurityGroupIds, this.settings.channel?.securityGroupIds) &&
      Object.keys(wanted).length === Object.keys(env).length &&
      Object.entries(wanted).every(([key, value]) => env[key] === value)
    );
  }

  /** With a Redis channel the functions join its VPC; without one they are detached from any VPC. */
  private vpcConfig(): { VpcConfig: { SubnetIds: string[]; SecurityGroupIds: string[] } } {
    const channel = this.settings.channel;
    return { VpcConfig: { SubnetIds: channel?.subnetIds ?? [], SecurityGroupIds: channel?.securityGroupIds ?? [] } };
  }

  /** Non-secret settings only: the runtime gives the function its role's credentials itself. */
  private environment(): Record<string, string> {
    return { NODE_OPTIONS: '--enable-source-maps', SMLT_WORKER: '1' };
  }

  private role(): string {
    if (!this.settings.role) {
      throw new SmltError(
        'CONFIG_INVALID',
        'Creating a worker function needs an execution role: run `smlt deploy --role arn:aws:iam::ACCOUNT:role/NAME` (`smlt deploy --print-policy` shows what the role needs).',
      );
    }
    return this.settings.role;
  }

  private async waitActive(name: string): Promise<void> {
    await aws(`wait for ${name} to become active`, () =>
      waitUntilFunctionActiveV2({ client: this.client, maxWaitTime: WAIT_S, minDelay: 1, maxDelay: 5 }, { FunctionName: name }),
    );
  }

  private async waitUpdated(name: string): Promise<void> {
    await aws(`wait for ${name} to finish updating`, () =>
      waitUntilFunctionUpdatedV2({ client: this.client, maxWaitTime: WAIT_S, minDelay: 1, maxDelay: 5 }, { FunctionName: name }),
    );
  }
}

/**
 * The bundled worker from the lambda-worker package, built on first use. Resolved at run time:
 * the worker package depends on this one, so this one cannot import it at build time.
 */
export async function loadWorkerBundle(): Promise<WorkerCode> {
  const specifier = createRequire(import.meta.url).resolve('@smlt/lambda-worker/bundle');
  const { workerBundle } = (await import(specifier)) as { workerBundle(): Promise<WorkerCode> };
  return workerBundle();
}

/** Runs one AWS call, turning its failure into an AWS_ERROR that names what was being done. */
export async function aws<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw awsError(what, err);
  }
}

export function awsError(what: string, err: unknown): SmltError {
  if (err instanceof SmltError) return err;
  const name = (err as { name?: string })?.name ?? '';
  let advice = '';
  if (name === 'AccessDeniedException' || name === 'AccessDenied' || name === 'UnrecognizedClientException') {
    advice = ' Your credentials may not do this: `smlt deploy --print-policy` shows the permissions SMLT needs.';
  } else if (name === 'CredentialsProviderError') {
    advice = ' No AWS credentials were found: set AWS_PROFILE, run `aws sso login`, or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.';
  } else if (name === 'InvalidParameterValueException' && /role/i.test(errorMessage(err))) {
    advice = ' Check the role ARN and that its trust policy lets lambda.amazonaws.com assume it (`smlt deploy --print-policy`).';
  }
  return new SmltError('AWS_ERROR', `Could not ${what}: ${name ? `${name}: ` : ''}${errorMessage(err)}.${advice}`, { cause: err });
}

function sameIds(current: readonly string[] | undefined, wanted: readonly string[] | undefined): boolean {
  const a = [...(current ?? [])].sort();
  const b = [...(wanted ?? [])].sort();
  return a.length === b.length && a.every((id, i) => id === b[i]);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
