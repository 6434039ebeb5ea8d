/**
 * The Lambda emulator's functions: CreateFunction / UpdateFunctionCode /
 * UpdateFunctionConfiguration input checked as Lambda checks it, the zip really unpacked into a
 * task root, and each code + configuration revision run by its own LocalPlatform (warm
 * containers, memory and time limits) with the function's environment plus Lambda's own.
 * A revision that is replaced finishes its running invocations, then its containers stop, as
 * Lambda retires old execution environments after an update.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { unzipSync } from 'fflate';
import { LocalPlatform } from '@smlt/shared/backends/local/local-platform';

/** The runtime stand-in each container runs (it imports the function's handler). */
const RUNTIME_ENTRY = fileURLToPath(new URL('./lambda-runtime.mjs', import.meta.url));

/** Lambda's limits (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html). */
export const LIMITS = {
  memoryMb: [128, 10_240],
  timeoutS: [1, 900],
  ephemeralStorageMb: [512, 10_240],
  unzippedBytes: 262_144_000,
  environmentBytes: 4096,
} as const;

/** Runtimes the emulator can run: Node.js ones (it runs them on this machine's Node). */
const NODE_RUNTIMES = ['nodejs18.x', 'nodejs20.x', 'nodejs22.x', 'nodejs24.x'];
const ALL_RUNTIMES = [...NODE_RUNTIMES, 'python3.12', 'python3.13', 'java21', 'provided.al2023', 'ruby3.3', 'dotnet8'];

/** Keys Lambda sets itself and refuses in a function's Environment. */
const RESERVED_ENV_KEYS = [
  '_HANDLER', '_X_AMZN_TRACE_ID', 'AWS_DEFAULT_REGION', 'AWS_REGION', 'AWS_EXECUTION_ENV',
  'AWS_LAMBDA_FUNCTION_NAME', 'AWS_LAMBDA_FUNCTION_MEMORY_SIZE', 'AWS_LAMBDA_FUNCTION_VERSION',
  'AWS_LAMBDA_INITIALIZATION_TYPE', 'AWS_LAMBDA_LOG_GROUP_NAME', 'AWS_LAMBDA_LOG_STREAM_NAME',
  'AWS_ACCESS_KEY', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN',
  'AWS_LAMBDA_RUNTIME_API', 'LAMBDA_TASK_ROOT', 'LAMBDA_RUNTIME_DIR',
];

const ROLE_ARN = /^arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role\/?[a-zA-Z_0-9+=,.@\-_/]+$/;
const FUNCTION_NAME = /^[a-zA-Z0-9-_]{1,64}$/;

/** An error the API answers with: HTTP status, `x-amzn-ErrorType`, and the JSON body Lambda sends. */
export class LambdaApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    /** Extra body fields (e.g. TooManyRequestsException's Reason). */
    readonly fields: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  body(): Record<string, unknown> {
    // ResourceNotFoundException spells it `Message`; the others `message` (the SDK's model says so).
    const messageKey = this.type === 'ResourceNotFoundException' ? 'Message' : 'message';
    return { Type: 'User', [messageKey]: this.message, ...this.fields };
  }
}

/** The FunctionConfiguration the API returns (the fields this emulator keeps). */
export interface FunctionConfiguration {
  FunctionName: string;
  FunctionArn: string;
  Runtime: string;
  Role: string;
  Handler: string;
  CodeSize: number;
  CodeSha256: string;
  Description: string;
  Timeout: number;
  MemorySize: number;
  LastModified: string;
  Version: '$LATEST';
  Environment?: { Variables: Record<string, string> };
  RevisionId: string;
  State: 'Pending' | 'Active' | 'Failed';
  StateReason?: string;
  StateReasonCode?: string;
  LastUpdateStatus?: 'InProgress' | 'Successful' | 'Failed';
  LastUpdateStatusReason?: string;
  LastUpdateStatusReasonCode?: string;
  PackageType: 'Zip';
  Architectures: string[];
  EphemeralStorage: { Size: number };
  /** Recorded as Lambda answers it (a made-up VPC id); the emulator's network is the host's. */
  VpcConfig?: { SubnetIds: string[]; SecurityGroupIds: string[]; VpcId: string };
}

/** One code + configuration revision: its task root and the platform running it. */
export interface Revision {
  id: number;
  taskRoot: string;
  platform: LocalPlatform;
  memoryMb: number;
  inflight: number;
  retired: boolean;
}

export interface EmulatedFunction {
  config: FunctionConfiguration;
  zip: Uint8Array;
  revision: Revision;
  reservedConcurrency?: number;
  /** Invocations running now, over all its revisions. */
  inflight: number;
  settleTimer?: NodeJS.Timeout;
}

export interface FunctionRuntimeOptions {
  region: string;
  accountId: string;
  /** Root folder for task roots and container temp folders. */
  root: string;
  /** Put in each function's environment as its execution role's credentials. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** How long a create or update stays Pending / InProgress. */
  settleMs: number;
  idleTimeoutMs: number;
  memoryPollMs: number;
}

export class FunctionRegistry {
  private readonly functions = new Map<string, EmulatedFunction>();
  private nextRevision = 1;

  constructor(private readonly options: FunctionRuntimeOptions) {}

  arn(name: string): string {
    return `arn:aws:lambda:${this.options.region}:${this.options.accountId}:function:${name}`;
  }

  get(name: string): EmulatedFunction {
    const fn = this.functions.get(name);
    if (!fn) throw new LambdaApiError(404, 'ResourceNotFoundException', `Function not found: ${this.arn(name)}`);
    return fn;
  }

  list(): EmulatedFunction[] {
    return [...this.functions.values()].sort((a, b) => a.config.FunctionName.localeCompare(b.config.FunctionName));
  }

  async create(input: Record<string, unknown>): Promise<FunctionConfiguration> {
    const name = functionNameOf(input.FunctionName);
    if (this.functions.has(name)) throw new LambdaApiError(409, 'ResourceConflictException', `Function already exist: ${name}`);
    if (input.PackageType !== undefined && input.PackageType !== 'Zip') {
      throw invalid(`PackageType ${String(input.PackageType)} is not supported by the emulator: package the function as a Zip.`);
    }
    if (input.Publish === true) throw invalid('The emulator runs $LATEST only: create the function with Publish: false.');
    const zip = zipFileOf(input.Code);
    const config: FunctionConfiguration = {
      FunctionName: name,
      FunctionArn: this.arn(name),
      Runtime: runtimeOf(input.Runtime),
      Role: roleOf(input.Role),
      Handler: handlerOf(input.Handler),
      CodeSize: zip.length,
      CodeSha256: sha256Base64(zip),
      Description: optionalString(input.Description, 'description') ?? '',
      Timeout: integerIn(input.Timeout, 'timeout', LIMITS.timeoutS, 3),
      MemorySize: integerIn(input.MemorySize, 'memorySize', LIMITS.memoryMb, 128),
      LastModified: lambdaTime(),
      Version: '$LATEST',
      Environment: environmentOf(input.Environment),
      RevisionId: randomUUID(),
      State: 'Pending',
      StateReason: 'The function is being created.',
      StateReasonCode: 'Creating',
      PackageType: 'Zip',
      Architectures: architecturesOf(input.Architectures),
      EphemeralStorage: { Size: ephemeralStorageOf(input.EphemeralStorage) },
      ...vpcConfigOf(input.VpcConfig),
    };
    if (!config.Environment) delete config.Environment;
    const revision = await this.startRevision(config, zip);
    const fn: EmulatedFunction = { config, zip, revision, inflight: 0 };
    this.functions.set(name, fn);
    this.settle(fn, () => {
      fn.config.State = 'Active';
      fn.config.LastUpdateStatus = 'Successful';
      delete fn.config.StateReason;
      delete fn.config.StateReasonCode;
    });
    return { ...fn.config };
  }

  async updateCode(name: string, input: Record<string, unknown>): Promise<FunctionConfiguration> {
    const fn = this.get(name);
    this.assertUpdatable(fn, input.RevisionId);
    if (input.Publish === true) throw invalid('The emulator runs $LATEST only: update the code with Publish: false.');
    for (const unsupported of ['S3Bucket', 'S3Key', 'S3ObjectVersion', 'ImageUri']) {
      if (input[unsupported] !== undefined) throw invalid(`${unsupported} is not supported by the emulator: send the code as ZipFile.`);
    }
    const zip = zipFileOf({ ZipFile: input.ZipFile });
    const architectures = input.Architectures === undefined ? fn.config.Architectures : architecturesOf(input.Architectures);
    if (input.DryRun === true) {
      unpack(zip);
      return { ...fn.config, CodeSha256: sha256Base64(zip), CodeSize: zip.length, Architectures: architectures };
    }
    const config = { ...fn.config, CodeSha256: sha256Base64(zip), CodeSize: zip.length, Architectures: architectures };
    await this.replaceRevision(fn, config, zip);
    return { ...fn.config };
  }

  async updateConfiguration(name: string, input: Record<string, unknown>): Promise<FunctionConfiguration> {
    const fn = this.get(name);
    this.assertUpdatable(fn, input.RevisionId);
    const c = fn.config;
    const config: FunctionConfiguration = {
      ...c,
      Runtime: input.Runtime === undefined ? c.Runtime : runtimeOf(input.Runtime),
      Role: input.Role === undefined ? c.Role : roleOf(input.Role),
      Handler: input.Handler === undefined ? c.Handler : handlerOf(input.Handler),
      Description: optionalString(input.Description, 'description') ?? c.Description,
      Timeout: input.Timeout === undefined ? c.Timeout : integerIn(input.Timeout, 'timeout', LIMITS.timeoutS, 3),
      MemorySize: input.MemorySize === undefined ? c.MemorySize : integerIn(input.MemorySize, 'memorySize', LIMITS.memoryMb, 128),
      Environment: input.Environment === undefined ? c.Environment : environmentOf(input.Environment),
      EphemeralStorage: input.EphemeralStorage === undefined ? c.EphemeralStorage : { Size: ephemeralStorageOf(input.EphemeralStorage) },
      ...(input.VpcConfig === undefined ? {} : vpcConfigOf(input.VpcConfig)),
    };
    if (!config.Environment) delete config.Environment;
    await this.replaceRevision(fn, config, fn.zip);
    return { ...fn.config };
  }

  async delete(name: string): Promise<void> {
    const fn = this.get(name);
    clearTimeout(fn.settleTimer);
    this.functions.delete(name);
    this.retire(fn.revision);
  }

  /** Runs after an invocation of `revision` ends: a replaced revision stops once idle. */
  released(revision: Revision): void {
    if (revision.retired && revision.inflight === 0) void this.stopRevision(revision);
  }

  async stopAll(): Promise<void> {
    const revisions = [...this.functions.values()].map((fn) => fn.revision);
    for (const fn of this.functions.values()) clearTimeout(fn.settleTimer);
    this.functions.clear();
    await Promise.all(revisions.map((r) => this.stopRevision(r)));
  }

  private assertUpdatable(fn: EmulatedFunction, revisionId: unknown): void {
    if (fn.config.State === 'Pending' || fn.config.LastUpdateStatus === 'InProgress') {
      // What Lambda answers to an update sent before the previous one finished (use a waiter).
      throw new LambdaApiError(
        409,
        'ResourceConflictException',
        `The operation cannot be performed at this time. An update is in progress for resource: ${fn.config.FunctionArn}`,
      );
    }
    if (revisionId !== undefined && revisionId !== fn.config.RevisionId) {
      throw new LambdaApiError(412, 'PreconditionFailedException', 'The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id');
    }
  }

  private async replaceRevision(fn: EmulatedFunction, config: FunctionConfiguration, zip: Uint8Array): Promise<void> {
    const revision = await this.startRevision(config, zip);
    const old = fn.revision;
    fn.revision = revision;
    fn.zip = zip;
    fn.config = { ...config, LastModified: lambdaTime(), RevisionId: randomUUID(), LastUpdateStatus: 'InProgress', LastUpdateStatusReason: 'The function is being updated.', LastUpdateStatusReasonCode: 'InProgress' };
    this.retire(old);
    this.settle(fn, () => {
      fn.config.LastUpdateStatus = 'Successful';
      delete fn.config.LastUpdateStatusReason;
      delete fn.config.LastUpdateStatusReasonCode;
    });
  }

  private settle(fn: EmulatedFunction, done: () => void): void {
    clearTimeout(fn.settleTimer);
    fn.settleTimer = setTimeout(done, this.options.settleMs);
    fn.settleTimer.unref();
  }

  private async startRevision(config: FunctionConfiguration, zip: Uint8Array): Promise<Revision> {
    const files = unpack(zip);
    const id = this.nextRevision++;
    const dir = join(this.options.root, `${config.FunctionName}-r${id}`);
    const taskRoot = join(dir, 'task');
    for (const [name, bytes] of Object.entries(files)) {
      const path = join(taskRoot, name);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, bytes);
    }
    await mkdir(taskRoot, { recursive: true });
    const platform = new LocalPlatform({
      workerEntry: RUNTIME_ENTRY,
      timeLimitMs: config.Timeout * 1000,
      tmpRoot: join(dir, 'tmp'),
      idleTimeoutMs: this.options.idleTimeoutMs,
      memoryPollMs: this.options.memoryPollMs,
      env: this.environment(config, taskRoot),
    });
    return { id, taskRoot, platform, memoryMb: config.MemorySize, inflight: 0, retired: false };
  }

  /** What Lambda puts in a function's environment, then the function's own variables. */
  private environment(config: FunctionConfiguration, taskRoot: string): Record<string, string> {
    const { region, credentials } = this.options;
    const env: Record<string, string> = {
      ...config.Environment?.Variables,
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      LANG: 'en_US.UTF-8',
      TZ: ':UTC',
      _HANDLER: config.Handler,
      AWS_REGION: region,
      AWS_DEFAULT_REGION: region,
      AWS_EXECUTION_ENV: `AWS_Lambda_${config.Runtime}`,
      AWS_LAMBDA_FUNCTION_NAME: config.FunctionName,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(config.MemorySize),
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${config.FunctionName}`,
      AWS_LAMBDA_LOG_STREAM_NAME: `emulated/[$LATEST]${randomUUID().replaceAll('-', '')}`,
      LAMBDA_TASK_ROOT: taskRoot,
    };
    if (credentials) {
      env.AWS_ACCESS_KEY_ID = credentials.accessKeyId;
      env.AWS_SECRET_ACCESS_KEY = credentials.secretAccessKey;
      if (credentials.sessionToken) env.AWS_SESSION_TOKEN = credentials.sessionToken;
    }
    return env;
  }

  private retire(revision: Revision): void {
    revision.retired = true;
    this.released(revision);
  }

  private async stopRevision(revision: Revision): Promise<void> {
    await revision.platform.close();
    await rm(dirname(revision.taskRoot), { recursive: true, force: true });
  }
}

/** Unzips in memory, refusing what Lambda refuses: a bad zip, a path out of the task root, too large. */
function unpack(zip: Uint8Array): Record<string, Uint8Array> {
  let total = 0;
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(zip, {
      filter: (file) => {
        total += file.originalSize;
        return !file.name.endsWith('/');
      },
    });
  } catch {
    throw invalid('Could not unzip uploaded file. Please check your file, then try to upload again.');
  }
  if (total >= LIMITS.unzippedBytes) throw invalid(`Unzipped size must be smaller than ${LIMITS.unzippedBytes} bytes`);
  for (const name of Object.keys(files)) {
    const path = normalize(name);
    if (path.startsWith('..') || path.startsWith(sep) || path.includes(`${sep}..${sep}`)) {
      throw invalid(`The zip holds ${JSON.stringify(name)}, a path outside the function's folder.`);
    }
  }
  return files;
}

function invalid(message: string): LambdaApiError {
  return new LambdaApiError(400, 'InvalidParameterValueException', message);
}

/** Lambda reports a constraint on a field as a ValidationException in this form. */
function validation(value: unknown, field: string, constraint: string): LambdaApiError {
  return new LambdaApiError(
    400,
    'ValidationException',
    `1 validation error detected: Value '${String(value)}' at '${field}' failed to satisfy constraint: ${constraint}`,
  );
}

function functionNameOf(value: unknown): string {
  if (typeof value !== 'string' || !FUNCTION_NAME.test(value)) {
    throw validation(value, 'functionName', 'Member must satisfy regular expression pattern: [a-zA-Z0-9-_]+ and have length between 1 and 64');
  }
  return value;
}

function runtimeOf(value: unknown): string {
  if (typeof value !== 'string' || !ALL_RUNTIMES.includes(value)) {
    throw invalid(`The runtime parameter of ${String(value)} is not supported: use one of ${NODE_RUNTIMES.join(', ')}.`);
  }
  if (!NODE_RUNTIMES.includes(value)) throw invalid(`The emulator runs Node.js functions only (${NODE_RUNTIMES.join(', ')}), not ${value}.`);
  return value;
}

function roleOf(value: unknown): string {
  if (typeof value !== 'string' || !ROLE_ARN.test(value)) {
    throw validation(value, 'role', 'Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+');
  }
  return value;
}

function handlerOf(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 128 || /\s/.test(value)) {
    throw validation(value, 'handler', 'Member must satisfy regular expression pattern: [^\\s]+ and have length between 1 and 128');
  }
  return value;
}

function optionalString(value: unknown, field: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw validation(value, field, 'Member must be a string');
  return value;
}

function integerIn(value: unknown, field: string, [min, max]: readonly [number, number], fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw validation(value, field, 'Member must be an integer');
  if (value < min) throw validation(value, field, `Member must have value greater than or equal to ${min}`);
  if (value > max) throw validation(value, field, `Member must have value less than or equal to ${max}`);
  return value;
}

function architecturesOf(value: unknown): string[] {
  if (value === undefined) return ['x86_64'];
  if (!Array.isArray(value) || value.length !== 1 || !['x86_64', 'arm64'].includes(value[0] as string)) {
    throw validation(JSON.stringify(value), 'architectures', 'Member must have length 1 and hold x86_64 or arm64');
  }
  return [value[0] as string];
}

function ephemeralStorageOf(value: unknown): number {
  if (value === undefined) return 512;
  return integerIn((value as { Size?: unknown }).Size, 'ephemeralStorage.size', LIMITS.ephemeralStorageMb, 512);
}

function environmentOf(value: unknown): { Variables: Record<string, string> } | undefined {
  if (value === undefined || value === null) return undefined;
  const variables = (value as { Variables?: unknown }).Variables ?? {};
  if (typeof variables !== 'object' || variables === null || Array.isArray(variables)) {
    throw invalid('Environment.Variables must be a map of names to strings.');
  }
  const entries = Object.entries(variables as Record<string, unknown>);
  const reserved = entries.map(([k]) => k).filter((k) => RESERVED_ENV_KEYS.includes(k));
  if (reserved.length > 0) {
    throw invalid(
      `Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: ${reserved.join(', ')}`,
    );
  }
  for (const [key, v] of entries) {
    if (!/^[a-zA-Z]([a-zA-Z0-9_])*$/.test(key)) throw invalid(`Environment variable name ${JSON.stringify(key)} is not valid: start with a letter, then letters, digits and _.`);
    if (typeof v !== 'string') throw invalid(`Environment variable ${key} must be a string.`);
  }
  if (Buffer.byteLength(JSON.stringify(variables)) > LIMITS.environmentBytes) {
    throw invalid(`Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit.`);
  }
  return { Variables: { ...(variables as Record<string, string>) } };
}

function zipFileOf(code: unknown): Uint8Array {
  const c = (code ?? {}) as Record<string, unknown>;
  for (const unsupported of ['S3Bucket', 'S3Key', 'S3ObjectVersion', 'ImageUri']) {
    if (c[unsupported] !== undefined) throw invalid(`Code.${unsupported} is not supported by the emulator: send the code as Code.ZipFile.`);
  }
  if (typeof c.ZipFile !== 'string' || c.ZipFile.length === 0) throw invalid('Code.ZipFile is required: the function code as a zip.');
  return new Uint8Array(Buffer.from(c.ZipFile, 'base64'));
}

function sha256Base64(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('base64');
}

/** Lambda's LastModified format: 2024-05-01T12:00:00.000+0000. */
function lambdaTime(): string {
  return new Date().toISOString().replace('Z', '+0000');
}

/** Lambda's VpcConfig: subnets and security groups given together (both empty detaches the function). */
function vpcConfigOf(value: unknown): { VpcConfig?: FunctionConfiguration['VpcConfig'] } {
  if (value === undefined) return {};
  const { SubnetIds = [], SecurityGroupIds = [] } = value as { SubnetIds?: unknown[]; SecurityGroupIds?: unknown[] };
  const ids = (list: unknown[], pattern: RegExp, field: string) =>
    list.map((id) => {
      if (typeof id !== 'string' || !pattern.test(id)) throw invalid(`Value '${String(id)}' at 'vpcConfig.${field}' failed to satisfy constraint`);
      return id;
    });
  const subnets = ids(SubnetIds, /^subnet-[0-9a-f]{8,17}$/, 'subnetIds');
  const groups = ids(SecurityGroupIds, /^sg-[0-9a-f]{8,17}$/, 'securityGroupIds');
  if ((subnets.length === 0) !== (groups.length === 0)) throw invalid('SubnetIds and SecurityGroupIds must be given together.');
  return { VpcConfig: { SubnetIds: subnets, SecurityGroupIds: groups, VpcId: subnets.length ? 'vpc-0emulator0000000' : '' } };
}
