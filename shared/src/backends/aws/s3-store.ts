/**
 * The ObjectStore on Amazon S3, through the real `@aws-sdk/client-s3`. Keys live under the run
 * store's prefix in one bucket; SMLT's key layout already spreads hot keys over 256 hashed
 * prefixes (see sync/keys.ts), since S3 throttles each prefix at about 3,500 writes per second.
 *
 * Credentials come only from the SDK's default chain (environment, profiles, SSO, the Lambda
 * role). Retries of 503 SlowDown, throttling and network errors are the SDK's own (standard mode,
 * exponential backoff with jitter), with more attempts than its default because a synchronous
 * all-reduce sends bursts. Objects over 16 MiB go up in parallel multipart uploads.
 */
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { SmltError, errorMessage } from '../../errors.js';
import type { ObjectStore, RequestCounts, StoreLocation } from '../ports.js';
import { type PollMs, assertValidKey, assertValidPrefix } from '../store-utils.js';

/** Objects at least this large use a multipart upload. */
export const MULTIPART_THRESHOLD = 16 * 1024 * 1024;
/** S3's smallest part (except the last) is 5 MiB; 8 MiB parts keep a 100 MB gradient to 13 parts. */
const PART_SIZE = 8 * 1024 * 1024;
/** DeleteObjects takes at most 1,000 keys. */
const KEYS_PER_DELETE = 1000;
/** A synchronous all-reduce sends bursts of requests; give each one room to back off. */
const MAX_ATTEMPTS = 8;
/** S3 answers a GET in ~10–30 ms, and each poll is a billed request: poll less eagerly than a folder. */
export const S3_POLL_MS: PollMs = { initial: 5, max: 100 };

export interface S3StoreOptions {
  bucket: string;
  /** Key prefix inside the bucket (no leading or trailing `/`), e.g. `smlt/my-project`. */
  prefix?: string;
  region?: string;
  /** An S3-compatible endpoint (an emulator, MinIO); implies path-style addressing. */
  endpoint?: string;
  /** Objects at least this large use a multipart upload. */
  multipartThreshold?: number;
}

export class S3Store implements ObjectStore {
  readonly url: string;
  readonly requests: RequestCounts = { put: 0, get: 0, list: 0, delete: 0 };
  readonly pollMs = S3_POLL_MS;
  readonly location: StoreLocation;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly multipartThreshold: number;

  constructor(options: S3StoreOptions) {
    const prefix = (options.prefix ?? '').replace(/^\/+|\/+$/g, '');
    if (prefix !== '') assertValidKey(prefix);
    this.bucket = options.bucket;
    this.prefix = prefix === '' ? '' : `${prefix}/`;
    this.multipartThreshold = options.multipartThreshold ?? MULTIPART_THRESHOLD;
    this.url = `s3://${options.bucket}/${prefix}`;
    this.location = { kind: 's3', root: options.bucket, prefix, region: options.region, endpoint: options.endpoint };
    this.client = s3Client(options);
    this.countRequests();
  }

  async put(key: string, body: Uint8Array | string): Promise<void> {
    const Key = this.keyOf(key);
    // A copy, so a caller changing its buffer during a slow upload cannot change the object.
    const Body = typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body);
    await this.call('put', key, async () => {
      if (Body.byteLength < this.multipartThreshold) {
        await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key, Body }));
        return;
      }
      const upload = new Upload({
        client: this.client,
        params: { Bucket: this.bucket, Key, Body },
        partSize: Math.max(PART_SIZE, Math.ceil(this.multipartThreshold / 2)),
        queueSize: 4,
        leavePartsOnError: false,
      });
      await upload.done();
    });
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const Key = this.keyOf(key);
    return this.call('get', key, async () => {
      try {
        const answer = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key }));
        return answer.Body ? await answer.Body.transformToByteArray() : new Uint8Array(0);
      } catch (err) {
        if (isMissing(err)) return undefined;
        throw err;
      }
    });
  }

  async has(key: string): Promise<boolean> {
    const Key = this.keyOf(key);
    return this.call('head', key, async () => {
      try {
        await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key }));
        return true;
      } catch (err) {
        if (isMissing(err)) return false;
        throw err;
      }
    });
  }

  async list(prefix: string): Promise<string[]> {
    assertValidPrefix(prefix);
    const keys: string[] = [];
    await this.call('list', prefix, async () => {
      let ContinuationToken: string | undefined;
      do {
        const page = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix + prefix, ContinuationToken }),
        );
        for (const object of page.Contents ?? []) {
          if (object.Key !== undefined) keys.push(object.Key.slice(this.prefix.length));
        }
        ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (ContinuationToken);
    });
    // S3 lists in UTF-8 byte order already; sorting again guards emulators that do not.
    return keys.sort(byBytes);
  }

  async delete(keys: readonly string[]): Promise<void> {
    const Keys = keys.map((key) => this.keyOf(key));
    for (let start = 0; start < Keys.length; start += KEYS_PER_DELETE) {
      const batch = Keys.slice(start, start + KEYS_PER_DELETE);
      await this.call('delete', keys[start] ?? '', async () => {
        const answer = await this.client.send(
          new DeleteObjectsCommand({
            Bucket: this.bucket,
            Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
          }),
        );
        const failed = answer.Errors ?? [];
        if (failed.length > 0) {
          const first = failed[0];
          throw new Error(`${failed.length} of ${batch.length} keys were not deleted (${first?.Key}: ${first?.Code} ${first?.Message})`);
        }
      });
    }
  }

  /** Releases the client's sockets. */
  close(): void {
    this.client.destroy();
  }

  private keyOf(key: string): string {
    assertValidKey(key);
    return this.prefix + key;
  }

  /** Counts every command the client sends (multipart parts included) as S3 bills them. */
  private countRequests(): void {
    const kinds: Record<string, keyof RequestCounts> = {
      PutObjectCommand: 'put',
      CreateMultipartUploadCommand: 'put',
      UploadPartCommand: 'put',
      CompleteMultipartUploadCommand: 'put',
      AbortMultipartUploadCommand: 'delete',
      GetObjectCommand: 'get',
      HeadObjectCommand: 'get',
      ListObjectsV2Command: 'list',
      DeleteObjectsCommand: 'delete',
    };
    this.client.middlewareStack.add(
      (next, context) => async (args) => {
        const kind = kinds[context.commandName ?? ''];
        if (kind) this.requests[kind]++;
        return next(args);
      },
      { step: 'initialize', name: 'smltRequestCounter' },
    );
  }

  /** Runs one store operation, turning S3's errors into a STORE_ERROR that says what to do. */
  private async call<T>(operation: string, key: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (err instanceof SmltError) throw err;
      throw new SmltError('STORE_ERROR', `S3 ${operation} of s3://${this.bucket}/${this.prefix}${key} failed: ${errorMessage(err)}${advice(err)}`);
    }
  }
}

/** Opens the store a worker is sent (`StoreLocation` kind `s3`). */
export function s3StoreAt(location: StoreLocation): S3Store {
  return new S3Store({ bucket: location.root, prefix: location.prefix, region: location.region, endpoint: location.endpoint });
}

/** An S3 client as every SMLT store uses it (also for deploy's bucket setup). */
export function s3Client(options: Pick<S3StoreOptions, 'region' | 'endpoint'>): S3Client {
  return new S3Client(clientConfig(options));
}

function clientConfig(options: Pick<S3StoreOptions, 'region' | 'endpoint'>): S3ClientConfig {
  return {
    region: options.region,
    maxAttempts: MAX_ATTEMPTS,
    retryMode: 'standard',
    // Checksums only where S3 requires them (as the SDK did before 2025): S3 checks Content-MD5/
    // CRC where it must, and S3-compatible stores that mishandle flexible checksums stay correct.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...(options.endpoint ? { endpoint: options.endpoint, forcePathStyle: true } : {}),
  };
}

function isMissing(err: unknown): boolean {
  if (!(err instanceof S3ServiceException)) return false;
  if (err.name === 'NoSuchBucket') return false;
  return err.name === 'NoSuchKey' || err.name === 'NotFound' || err.$metadata.httpStatusCode === 404;
}

/** What the user can do about an S3 failure, for the errors people actually meet. */
function advice(err: unknown): string {
  const name = (err as { name?: string })?.name ?? '';
  if (name === 'NoSuchBucket') return '. The bucket does not exist: run `smlt deploy --bucket NAME` to create it, or fix `bucket` in smlt.config.json.';
  if (name === 'AccessDenied' || name === 'Forbidden' || name === 'InvalidAccessKeyId' || name === 'SignatureDoesNotMatch') {
    return '. The credentials from the AWS default chain may not use this bucket: `smlt deploy --print-policy` shows the policy the role needs.';
  }
  if (name === 'CredentialsProviderError') {
    return '. No AWS credentials were found: set AWS_PROFILE, run `aws sso login`, or export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY.';
  }
  return '';
}

function byBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
