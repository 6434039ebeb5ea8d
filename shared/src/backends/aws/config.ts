/**
 * The project's AWS settings, `smlt.config.json`: where runs and workers go (region, bucket,
 * prefix, role, architecture). `smlt deploy` writes it; `--backend aws` reads it. It holds no
 * secret: credentials come only from the AWS SDK's default chain (environment, profiles, SSO).
 */
import { existsSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { SmltError } from '../../errors.js';

export const CONFIG_FILE = 'smlt.config.json';

const BUCKET = /^(?!xn--)(?!.*-s3alias$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;
const PREFIX = /^[A-Za-z0-9!_.*'()-]+(\/[A-Za-z0-9!_.*'()-]+)*$/;

export const AwsSettingsSchema = z.strictObject({
  region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'a region such as us-east-1'),
  bucket: z.string().regex(BUCKET, 'an S3 bucket name: 3–63 lowercase letters, digits, dots and hyphens'),
  prefix: z.string().regex(PREFIX, 'a key prefix such as smlt/my-project (no leading or trailing /)').default('smlt'),
  /** The execution role the worker functions assume. */
  role: z.string().regex(ROLE_ARN, 'an IAM role ARN such as arn:aws:iam::123456789012:role/smlt-worker').optional(),
  architecture: z.enum(['arm64', 'x86_64']).default('arm64'),
  runtime: z.enum(['nodejs20.x', 'nodejs22.x']).default('nodejs22.x'),
  /** Worker functions are named `<functionPrefix>-<memory MB>`. */
  functionPrefix: z.string().regex(/^[A-Za-z0-9_-]{1,50}$/, 'letters, digits, - and _ (at most 50)').default('smlt-worker'),
  /** Each invocation's limit, at most Lambda's 900 s; workers checkpoint and are relaunched before it. */
  timeoutS: z.number().int().min(1).max(900).default(900),
  /**
   * A Redis/Valkey gradient channel (ElastiCache) for `--channel redis`: its endpoint URL (no
   * password: use in-transit encryption and a security group; an AUTH token, if any, reaches the
   * functions as SMLT_REDIS_PASSWORD), and the VPC subnets and security groups that let the
   * worker functions reach it.
   */
  channel: z
    .strictObject({
      url: z.string().regex(/^rediss?:\/\/[^:@/]+(:\d+)?(\/\d+)?$/, 'a redis:// or rediss:// URL without credentials, e.g. rediss://my-cache.xxxxxx.use1.cache.amazonaws.com:6379'),
      subnetIds: z.array(z.string().regex(/^subnet-[0-9a-f]{8,17}$/, 'a subnet id such as subnet-0123456789abcdef0')).min(1),
      securityGroupIds: z.array(z.string().regex(/^sg-[0-9a-f]{8,17}$/, 'a security group id such as sg-0123456789abcdef0')).min(1),
    })
    .optional(),
  /** S3-compatible and Lambda-compatible endpoints (emulators, LocalStack); absent on AWS. */
  endpoints: z.strictObject({ s3: z.url().optional(), lambda: z.url().optional() }).optional(),
});

export type AwsSettings = z.infer<typeof AwsSettingsSchema>;
export type AwsSettingsInput = z.input<typeof AwsSettingsSchema>;

const ConfigSchema = z.strictObject({ aws: AwsSettingsSchema.optional() });
export type ProjectConfig = z.infer<typeof ConfigSchema>;

/** The nearest `smlt.config.json` from `fromDir` upward, or undefined. */
export function findConfigFile(fromDir: string): string | undefined {
  for (let dir = resolve(fromDir); ; dir = dirname(dir)) {
    const file = join(dir, CONFIG_FILE);
    if (existsSync(file)) return file;
    if (dirname(dir) === dir) return undefined;
  }
}

export async function readConfig(file: string): Promise<ProjectConfig> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new SmltError('CONFIG_INVALID', `${file} is not valid JSON (${(err as Error).message}); fix it or delete it and run \`smlt deploy\` again.`);
  }
  return parseConfig(raw, file);
}

export function parseConfig(raw: unknown, file: string): ProjectConfig {
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.join('.') || '(top level)';
    throw new SmltError('CONFIG_INVALID', `${file}: field "${field}" is invalid: ${issue.message}. Fix it, or run \`smlt deploy\` with the matching flag.`);
  }
  return parsed.data;
}

/**
 * The AWS settings for a notebook in `fromDir`: from the nearest smlt.config.json, else a clear
 * error saying to run `smlt deploy`.
 */
export async function awsSettingsFor(fromDir: string): Promise<{ settings: AwsSettings; file: string }> {
  const file = findConfigFile(fromDir);
  const settings = file ? (await readConfig(file)).aws : undefined;
  if (!file || !settings) {
    throw new SmltError(
      'CONFIG_INVALID',
      `No AWS settings found in ${CONFIG_FILE} from ${fromDir} upward: run \`smlt deploy --region R --bucket B --role ARN\` in your project folder first.`,
    );
  }
  return { settings, file };
}

/** Writes the AWS settings into `file`, keeping its other sections. */
export async function writeAwsSettings(file: string, settings: AwsSettings): Promise<void> {
  const existing = existsSync(file) ? await readConfig(file) : {};
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify({ ...existing, aws: settings }, null, 2)}\n`);
  await rename(temp, file);
}
