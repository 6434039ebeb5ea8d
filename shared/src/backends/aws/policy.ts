/**
 * The least-privilege IAM policies SMLT needs, scoped to the project's bucket prefix and worker
 * functions. `smlt deploy --print-policy` prints them; SECURITY.md explains who holds which.
 */
import type { AwsSettings } from './config.js';

type Statement = { Sid: string; Effect: 'Allow'; Action: string[]; Resource: string | string[]; Condition?: object };
export interface PolicyDocument {
  Version: '2012-10-17';
  Statement: Statement[];
}

/** The account of the role ARN, or a placeholder the user replaces. */
function accountOf(settings: AwsSettings): string {
  return /^arn:aws[a-z-]*:iam::(\d{12}):/.exec(settings.role ?? '')?.[1] ?? 'ACCOUNT_ID';
}

function partitionOf(settings: AwsSettings): string {
  return /^arn:(aws[a-z-]*):/.exec(settings.role ?? '')?.[1] ?? 'aws';
}

/** Read, write and list the project's prefix of the bucket: what workers and the orchestrator share. */
function storeStatements(settings: AwsSettings): Statement[] {
  const p = partitionOf(settings);
  return [
    {
      Sid: 'SmltRunObjects',
      Effect: 'Allow',
      Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'],
      Resource: `arn:${p}:s3:::${settings.bucket}/${settings.prefix}/*`,
    },
    {
      Sid: 'SmltListRunPrefix',
      Effect: 'Allow',
      Action: ['s3:ListBucket'],
      Resource: `arn:${p}:s3:::${settings.bucket}`,
      Condition: { StringLike: { 's3:prefix': [`${settings.prefix}/*`] } },
    },
  ];
}

/** The worker functions' execution role: the run's objects and its own logs, nothing else. */
export function workerRolePolicy(settings: AwsSettings): PolicyDocument {
  const p = partitionOf(settings);
  return {
    Version: '2012-10-17',
    Statement: [
      ...storeStatements(settings),
      {
        Sid: 'SmltWorkerLogs',
        Effect: 'Allow',
        Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: `arn:${p}:logs:${settings.region}:${accountOf(settings)}:log-group:/aws/lambda/${settings.functionPrefix}-*`,
      },
      // In a VPC (to reach a Redis channel) Lambda manages the functions' network interfaces with the role.
      ...(settings.channel
        ? [
            {
              Sid: 'SmltWorkerVpcInterfaces',
              Effect: 'Allow' as const,
              Action: ['ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces', 'ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'],
              Resource: '*',
            },
          ]
        : []),
    ],
  };
}

/** The trust policy that lets Lambda assume the worker role. */
export function workerRoleTrustPolicy(): object {
  return {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
  };
}

/** What the person running `smlt deploy`, `smlt train --backend aws` and `smlt destroy` needs. */
export function userPolicy(settings: AwsSettings): PolicyDocument {
  const p = partitionOf(settings);
  const functions = `arn:${p}:lambda:${settings.region}:${accountOf(settings)}:function:${settings.functionPrefix}-*`;
  return {
    Version: '2012-10-17',
    Statement: [
      ...storeStatements(settings),
      {
        Sid: 'SmltBucketSetup',
        Effect: 'Allow',
        Action: ['s3:CreateBucket', 's3:GetLifecycleConfiguration', 's3:PutLifecycleConfiguration'],
        Resource: `arn:${p}:s3:::${settings.bucket}`,
      },
      {
        Sid: 'SmltWorkerFunctions',
        Effect: 'Allow',
        Action: [
          'lambda:CreateFunction',
          'lambda:GetFunction',
          'lambda:GetFunctionConfiguration',
          'lambda:UpdateFunctionCode',
          'lambda:UpdateFunctionConfiguration',
          'lambda:DeleteFunction',
          'lambda:InvokeFunction',
        ],
        Resource: functions,
      },
      // ListFunctions cannot be scoped to a resource.
      { Sid: 'SmltFindFunctions', Effect: 'Allow', Action: ['lambda:ListFunctions'], Resource: '*' },
      {
        Sid: 'SmltPassWorkerRole',
        Effect: 'Allow',
        Action: ['iam:PassRole'],
        Resource: settings.role ?? `arn:${p}:iam::${accountOf(settings)}:role/ROLE_NAME`,
        Condition: { StringEquals: { 'iam:PassedToService': 'lambda.amazonaws.com' } },
      },
    ],
  };
}
