/**
 * The Lambda deployment package: esbuild bundles `lambda-entry` (the worker handler, tfjs core +
 * layers + wasm backend, the S3 client: everything it imports, the AWS SDK included, since the
 * SDK a Lambda runtime ships is not a version we chose) into one ESM file, `index.mjs` (handler
 * string `index.handler`), and zips it with the tfjs `.wasm` binaries beside it, where
 * `shared/src/tf/backend.ts` looks for them. Pure JS + wasm: one zip for x86_64 and arm64,
 * Node 20 and 22.
 *
 * `workerBundle()` is what `smlt deploy` and the Lambda emulator's tests call: it returns the
 * zip, building it first when it is missing or any input changed since it was built. It bundles
 * the *built* packages (`dist/`), so run `tsc -b` first, as `npm run build` does.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Zippable, zipSync } from 'fflate';
import { SmltError, errorMessage } from '@smlt/shared/errors';

/** The lambda-worker package's folder (this file is `dist/bundle.js` in it). */
const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Where the zip and its input manifest are kept (ignored by git). */
export const BUNDLE_DIR = join(PACKAGE_DIR, 'bundle');
export const BUNDLE_ZIP = join(BUNDLE_DIR, 'worker.zip');
const MANIFEST = join(BUNDLE_DIR, 'worker.inputs.json');

/** The handler string a function created from this zip must use. */
export const BUNDLE_HANDLER = 'index.handler';
/** Runtimes the bundle is built for and tested on. */
export const BUNDLE_RUNTIMES = ['nodejs20.x', 'nodejs22.x'] as const;
export const BUNDLE_ARCHITECTURES = ['x86_64', 'arm64'] as const;

/**
 * The wasm binaries that go beside `index.mjs`. Node never runs the threaded build (the backend
 * reports one thread in Node), so only the SIMD and the plain one are shipped.
 */
const WASM_FILES = ['tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm.wasm'] as const;

/**
 * An ESM bundle of CommonJS packages needs what Node gives CommonJS modules: `require` for the
 * built-ins they require (tfjs, the AWS SDK) and `__dirname` for Emscripten's loader.
 */
const BANNER = [
  "import { createRequire as __smltCreateRequire } from 'node:module';",
  "import { dirname as __smltDirname } from 'node:path';",
  "import { fileURLToPath as __smltFileURLToPath } from 'node:url';",
  'const require = __smltCreateRequire(import.meta.url);',
  'const __filename = __smltFileURLToPath(import.meta.url);',
  'const __dirname = __smltDirname(__filename);',
].join('\n');

/** A fixed time for every zip entry, so the same inputs give the same bytes (and CodeSha256). */
const ENTRY_TIME = new Date('2000-01-01T12:00:00Z');
/** A regular file, rw-r--r--, in the Unix attribute bits of a zip entry. */
const UNIX_FILE_ATTRS = (0o100644 << 16) >>> 0;

export interface WorkerBundle {
  /** The zip's bytes: CreateFunction's / UpdateFunctionCode's `ZipFile`. */
  zip: Uint8Array;
  /** Where it is on disk. */
  path: string;
  /** Base64 SHA-256 of the zip, as Lambda reports `CodeSha256`: equal means the code is deployed. */
  codeSha256: string;
  /** Each file in the zip and its size before compression. */
  files: { name: string; bytes: number }[];
  /** Whether this call built it (false: the zip on disk was up to date). */
  built: boolean;
}

/**
 * The worker zip, built when missing or stale (an input file changed, or another esbuild).
 * `rebuild: true` builds it regardless.
 */
export async function workerBundle(options: { rebuild?: boolean } = {}): Promise<WorkerBundle> {
  if (!options.rebuild && (await isUpToDate())) {
    const zip = new Uint8Array(await readFile(BUNDLE_ZIP));
    const manifest = JSON.parse(await readFile(MANIFEST, 'utf8')) as Manifest;
    return { zip, path: BUNDLE_ZIP, codeSha256: sha256Base64(zip), files: manifest.files, built: false };
  }
  return buildWorkerBundle();
}

/** Bundles, zips, and writes `bundle/worker.zip` and its input manifest. */
export async function buildWorkerBundle(): Promise<WorkerBundle> {
  const esbuild = await loadEsbuild();
  const entry = join(PACKAGE_DIR, 'dist', 'lambda-entry.js');
  if (!existsSync(entry)) {
    throw new SmltError('WORKER_FAILED', `${entry} is missing: build the packages first (npm run build at the repository root).`);
  }
  let result: Awaited<ReturnType<typeof esbuild.build>>;
  try {
    result = await esbuild.build({
      entryPoints: [entry],
      outfile: join(BUNDLE_DIR, 'index.mjs'),
      absWorkingDir: PACKAGE_DIR,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: ['node20'],
      minify: true,
      // tfjs names classes in messages and some serialization paths; keep them readable.
      keepNames: true,
      legalComments: 'linked',
      banner: { js: BANNER },
      // tfjs-core requires node-fetch only where Node has no global fetch; every Node that
      // Lambda runs (18+) has one. Leaving it out saves ~0.3 MB (it pulls in whatwg-url, tr46).
      external: ['node-fetch'],
      metafile: true,
      write: false,
      logLevel: 'silent',
    });
  } catch (err) {
    throw new SmltError('WORKER_FAILED', `Bundling the Lambda worker failed: ${errorMessage(err)}`, { cause: err });
  }

  const contents: Record<string, Uint8Array> = {};
  if (!result.outputFiles || !result.metafile) throw new SmltError('WORKER_FAILED', 'esbuild returned no output for the Lambda worker.');
  for (const file of result.outputFiles) contents[relative(BUNDLE_DIR, file.path)] = file.contents;
  const wasmDir = dirname(createRequire(entry).resolve('@tensorflow/tfjs-backend-wasm'));
  for (const name of WASM_FILES) contents[name] = new Uint8Array(await readFile(join(wasmDir, name)));

  const zip = zipFiles(contents);
  const inputs = [...Object.keys(result.metafile.inputs).map((p) => resolve(PACKAGE_DIR, p)), ...WASM_FILES.map((n) => join(wasmDir, n))];
  const manifest: Manifest = {
    esbuild: esbuild.version,
    files: Object.entries(contents).map(([name, bytes]) => ({ name, bytes: bytes.length })),
    inputs: Object.fromEntries(await Promise.all(inputs.map(async (p) => [p, await fileHash(p)] as const))),
  };
  await mkdir(BUNDLE_DIR, { recursive: true });
  await writeAtomically(BUNDLE_ZIP, zip);
  await writeAtomically(MANIFEST, JSON.stringify(manifest, null, 1));
  return { zip, path: BUNDLE_ZIP, codeSha256: sha256Base64(zip), files: manifest.files, built: true };
}

/**
 * A deterministic zip of `files` (name → bytes), each entry a Unix rw-r--r-- file: what Lambda
 * unpacks into its task root. Tests use it to package small handlers too.
 */
export function zipFiles(files: Record<string, Uint8Array | string>): Uint8Array {
  const entries: Zippable = {};
  for (const name of Object.keys(files).sort()) {
    const body = files[name];
    const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body;
    entries[name] = [bytes, { level: 9, mtime: ENTRY_TIME, os: 3, attrs: UNIX_FILE_ATTRS }];
  }
  return zipSync(entries);
}

/** Base64 SHA-256, the form of Lambda's `CodeSha256`. */
export function sha256Base64(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('base64');
}

interface Manifest {
  esbuild: string;
  files: { name: string; bytes: number }[];
  /** Absolute input path → sha256 of its content when the zip was built. */
  inputs: Record<string, string>;
}

async function isUpToDate(): Promise<boolean> {
  if (!existsSync(BUNDLE_ZIP) || !existsSync(MANIFEST)) return false;
  let manifest: Manifest;
  try {
    manifest = JSON.parse(await readFile(MANIFEST, 'utf8')) as Manifest;
  } catch {
    return false;
  }
  const esbuild = await loadEsbuild().catch(() => undefined);
  // Without esbuild a zip cannot be rebuilt anyway: use the one there is.
  if (esbuild && esbuild.version !== manifest.esbuild) return false;
  const entries = Object.entries(manifest.inputs ?? {});
  if (entries.length === 0) return false;
  const current = await Promise.all(entries.map(([path]) => fileHash(path).catch(() => undefined)));
  return entries.every(([, hash], i) => current[i] === hash);
}

async function loadEsbuild(): Promise<typeof import('esbuild')> {
  try {
    return await import('esbuild');
  } catch (err) {
    throw new SmltError(
      'WORKER_FAILED',
      `Building the Lambda worker bundle needs esbuild, a development dependency of @smlt/lambda-worker: run npm install in the repository (${errorMessage(err)}).`,
      { cause: err },
    );
  }
}

async function fileHash(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

async function writeAtomically(path: string, body: Uint8Array | string): Promise<void> {
  const partial = `${path}.${process.pid}.tmp`;
  await writeFile(partial, body);
  await rename(partial, path);
}
