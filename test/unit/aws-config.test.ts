/** smlt.config.json's AWS settings and the IAM policies derived from them. */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AwsSettingsSchema, awsSettingsFor, findConfigFile, parseConfig, writeAwsSettings } from '@smlt/shared/backends/aws/config';
import { userPolicy, workerRolePolicy } from '@smlt/shared/backends/aws/policy';
import { isSmltError } from '@smlt/shared/errors';

const base = { region: 'eu-west-1', bucket: 'my-smlt-runs', role: 'arn:aws:iam::123456789012:role/smlt-worker' };

describe('AWS settings', () => {
  it('fills defaults: arm64, nodejs22.x, prefix smlt, 900 s, smlt-worker functions', () => {
    const settings = AwsSettingsSchema.parse(base);
    assert.deepEqual(
      [settings.architecture, settings.runtime, settings.prefix, settings.timeoutS, settings.functionPrefix],
      ['arm64', 'nodejs22.x', 'smlt', 900, 'smlt-worker'],
    );
  });

  it('rejects bad values naming the field and the fix', () => {
    const cases: [object, string][] = [
      [{ ...base, bucket: 'Bad_Bucket' }, 'aws.bucket'],
      [{ ...base, region: 'mars' }, 'aws.region'],
      [{ ...base, role: 'smlt-worker' }, 'aws.role'],
      [{ ...base, timeoutS: 901 }, 'aws.timeoutS'],
      [{ ...base, prefix: '/leading' }, 'aws.prefix'],
      [{ ...base, accessKeyId: 'AKIA...' }, 'aws'],
    ];
    for (const [aws, field] of cases) {
      assert.throws(
        () => parseConfig({ aws }, 'smlt.config.json'),
        (err) => isSmltError(err, 'CONFIG_INVALID') && err.message.includes(`"${field}"`) && err.message.includes('smlt deploy'),
        `${JSON.stringify(aws)} names ${field}`,
      );
    }
  });

  it('is found from a notebook folder upward, and written without touching other sections', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'smlt-config-'));
    try {
      const file = join(dir, 'smlt.config.json');
      await assert.rejects(awsSettingsFor(join(dir, 'notebooks')), (err) => isSmltError(err, 'CONFIG_INVALID') && /smlt deploy/.test(err.message));
      await writeFile(file, JSON.stringify({}));
      await writeAwsSettings(file, AwsSettingsSchema.parse(base));
      assert.equal(findConfigFile(join(dir, 'a', 'b')), file);
      const { settings } = await awsSettingsFor(join(dir, 'a'));
      assert.equal(settings.bucket, 'my-smlt-runs');
      assert.doesNotMatch(await readFile(file, 'utf8'), /secret|AKIA|token/i);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('IAM policies', () => {
  const settings = AwsSettingsSchema.parse({ ...base, prefix: 'team/proj' });

  it('scope the workers to their prefix and their own logs', () => {
    const text = JSON.stringify(workerRolePolicy(settings));
    assert.ok(text.includes('arn:aws:s3:::my-smlt-runs/team/proj/*'));
    assert.ok(text.includes('"s3:prefix":["team/proj/*"]'));
    assert.ok(text.includes('log-group:/aws/lambda/smlt-worker-*'));
    assert.doesNotMatch(text, /"Resource":"\*"|lambda:|iam:/, 'workers cannot touch functions, IAM, or other resources');
  });

  it('give the user the worker functions and PassRole of that one role to Lambda only', () => {
    const policy = userPolicy(settings);
    const text = JSON.stringify(policy);
    assert.ok(text.includes('arn:aws:lambda:eu-west-1:123456789012:function:smlt-worker-*'));
    const passRole = policy.Statement.find((s) => s.Action.includes('iam:PassRole'));
    assert.equal(passRole?.Resource, base.role);
    assert.deepEqual(passRole?.Condition, { StringEquals: { 'iam:PassedToService': 'lambda.amazonaws.com' } });
    const unscoped = policy.Statement.filter((s) => s.Resource === '*').flatMap((s) => s.Action);
    assert.deepEqual(unscoped, ['lambda:ListFunctions'], 'only ListFunctions, which cannot be scoped');
  });
});
