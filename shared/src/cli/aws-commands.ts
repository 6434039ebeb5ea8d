/**
 * `smlt deploy` and `smlt destroy`: the AWS setup commands. Settings come from flags, then the
 * existing smlt.config.json, then defaults; the result is written back to smlt.config.json.
 * Credentials are never asked for, printed or stored: the AWS SDK's default chain provides them.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { CONFIG_FILE, type AwsSettings, AwsSettingsSchema, findConfigFile, parseConfig, readConfig, writeAwsSettings } from '../backends/aws/config.js';
import { deploy, destroy } from '../backends/aws/deploy.js';
import { userPolicy, workerRolePolicy, workerRoleTrustPolicy } from '../backends/aws/policy.js';
import { SmltError } from '../errors.js';
import { memoryList, oneOf, positiveInt } from './parse.js';

interface DeployFlags {
  region?: string;
  bucket?: string;
  prefix?: string;
  role?: string;
  arch?: 'arm64' | 'x86_64';
  runtime?: 'nodejs20.x' | 'nodejs22.x';
  memory?: number[];
  timeout?: number;
  s3Endpoint?: string;
  lambdaEndpoint?: string;
  channelUrl?: string;
  subnets?: string;
  securityGroups?: string;
  config?: string;
  printPolicy?: boolean;
  probe: boolean;
  json?: boolean;
}

export function addAwsCommands(program: Command): void {
  program
    .command('deploy')
    .description('Set up AWS for training: the S3 bucket, one Lambda worker function per memory size, and dry-run checks')
    .option('--region <region>', 'AWS region (default: the existing config, else $AWS_REGION)')
    .option('--bucket <name>', 'S3 bucket for run data (created if missing)')
    .option('--prefix <prefix>', 'key prefix inside the bucket (default smlt)')
    .option('--role <arn>', 'execution role of the worker functions (see --print-policy)')
    .option('--arch <arch>', 'arm64 (cheaper per GB-s) or x86_64', (v) => oneOf(v, ['arm64', 'x86_64'] as const, '--arch'))
    .option('--runtime <runtime>', 'nodejs22.x or nodejs20.x', (v) => oneOf(v, ['nodejs20.x', 'nodejs22.x'] as const, '--runtime'))
    .option('--memory <mb,...>', 'memory sizes to create now (others are created when the scheduler first uses them; default 1769)', memoryList)
    .option('--timeout <s>', 'per-invocation limit in seconds, at most 900 (workers checkpoint and relaunch before it)', positiveInt('--timeout'))
    .option('--s3-endpoint <url>', 'an S3-compatible endpoint instead of AWS (emulators, LocalStack)')
    .option('--lambda-endpoint <url>', 'a Lambda-compatible endpoint instead of AWS (emulators, LocalStack)')
    .option('--channel-url <url>', 'an ElastiCache Redis/Valkey endpoint (rediss://HOST:PORT) for --channel redis')
    .option('--subnets <ids>', 'comma-separated VPC subnets the functions join to reach the channel')
    .option('--security-groups <ids>', 'comma-separated security groups of the functions (allowed into the cache)')
    .option('--config <file>', `project config file (default: the nearest ${CONFIG_FILE}, else ./${CONFIG_FILE})`)
    .option('--print-policy', 'print the IAM policies (worker role, its trust policy, your user) and exit')
    .option('--no-probe', 'skip the probe invocation (one billed call that checks a worker starts)')
    .option('--json', 'print the result as one JSON object')
    .action(async (flags: DeployFlags) => {
      const file = flags.config ? resolve(flags.config) : (findConfigFile(process.cwd()) ?? resolve(CONFIG_FILE));
      const settings = await settingsFrom(flags, file);
      if (flags.printPolicy) {
        printPolicies(settings);
        return;
      }
      const report = await deploy({
        settings,
        ...(flags.memory ? { memoryMb: flags.memory } : {}),
        probe: flags.probe,
        onStep: flags.json ? undefined : (line) => console.log(line),
      });
      await writeAwsSettings(file, settings);
      const failed = report.checks.filter((c) => !c.ok);
      if (flags.json) console.log(JSON.stringify({ configFile: file, settings, ...report }));
      else {
        console.log(`settings saved to ${file} (no credentials: they come from the AWS SDK's default chain)`);
        console.log(failed.length === 0 ? 'ready: smlt train NOTEBOOK --backend aws' : `${failed.length} check(s) failed; see above.`);
      }
      if (failed.length > 0) process.exitCode = 1;
    });

  program
    .command('destroy')
    .description('Delete the Lambda worker functions (and with --data, every object under the prefix)')
    .option('--data', 'also delete all run data (checkpoints, events, reports) under the bucket prefix')
    .option('--config <file>', `project config file (default: the nearest ${CONFIG_FILE})`)
    .option('--json', 'print the result as one JSON object')
    .action(async (flags: { data?: boolean; config?: string; json?: boolean }) => {
      const file = flags.config ? resolve(flags.config) : findConfigFile(process.cwd());
      const settings = file ? (await readConfig(file)).aws : undefined;
      if (!file || !settings) throw new SmltError('CONFIG_INVALID', `No AWS settings in ${file ?? CONFIG_FILE}: nothing was deployed from here.`);
      const report = await destroy(settings, { deleteData: Boolean(flags.data) });
      if (flags.json) console.log(JSON.stringify(report));
      else {
        console.log(`deleted ${report.functions.length} function(s)${report.functions.length ? `: ${report.functions.join(', ')}` : ''}`);
        console.log(flags.data ? `deleted ${report.objectsDeleted} object(s) under s3://${settings.bucket}/${settings.prefix}/` : `run data kept in s3://${settings.bucket}/${settings.prefix}/ (delete it with --data)`);
      }
    });
}

/** Flags over the existing config over defaults, validated with the config's own schema. */
async function settingsFrom(flags: DeployFlags, file: string): Promise<AwsSettings> {
  const existing = findConfigFile(resolve(file, '..')) === file ? (await readConfig(file)).aws : undefined;
  const endpoints = {
    ...existing?.endpoints,
    ...(flags.s3Endpoint ? { s3: flags.s3Endpoint } : {}),
    ...(flags.lambdaEndpoint ? { lambda: flags.lambdaEndpoint } : {}),
  };
  const merged = {
    ...existing,
    ...defined({
      region: flags.region ?? existing?.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION,
      bucket: flags.bucket,
      prefix: flags.prefix,
      role: flags.role,
      architecture: flags.arch,
      runtime: flags.runtime,
      timeoutS: flags.timeout,
    }),
    ...(Object.keys(endpoints).length > 0 ? { endpoints } : {}),
    ...channelFrom(flags, existing?.channel),
  };
  if (merged.region === undefined) throw new SmltError('OPTION_INVALID', 'No region: pass --region (e.g. --region us-east-1) or set AWS_REGION.');
  if (merged.bucket === undefined) throw new SmltError('OPTION_INVALID', 'No bucket: pass --bucket NAME (it is created if it does not exist).');
  const config = parseConfig({ aws: merged }, `deploy settings for ${file}`);
  return AwsSettingsSchema.parse(config.aws);
}

function printPolicies(settings: AwsSettings): void {
  console.log('# Worker role policy (attach to the role given with --role):');
  console.log(JSON.stringify(workerRolePolicy(settings), null, 2));
  console.log('\n# Worker role trust policy (lets Lambda assume the role):');
  console.log(JSON.stringify(workerRoleTrustPolicy(), null, 2));
  console.log('\n# Your user or SSO role (deploy, train --backend aws, destroy):');
  console.log(JSON.stringify(userPolicy(settings), null, 2));
}

/** `--channel-url`, `--subnets` and `--security-groups` over the existing channel settings. */
function channelFrom(flags: DeployFlags, existing: AwsSettings['channel']): { channel?: AwsSettings['channel'] } {
  const list = (value: string | undefined) => value?.split(',').map((id) => id.trim()).filter(Boolean);
  if (!flags.channelUrl && !flags.subnets && !flags.securityGroups) return existing ? { channel: existing } : {};
  const url = flags.channelUrl ?? existing?.url;
  if (!url) throw new SmltError('OPTION_INVALID', '--subnets and --security-groups configure the Redis channel: give --channel-url rediss://HOST:PORT too.');
  return {
    channel: {
      url,
      subnetIds: list(flags.subnets) ?? existing?.subnetIds ?? [],
      securityGroupIds: list(flags.securityGroups) ?? existing?.securityGroupIds ?? [],
    },
  };
}

function defined<T extends object>(record: T): Partial<T> {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined)) as Partial<T>;
}
