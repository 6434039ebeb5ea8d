// Bundles the extension (Node, CommonJS, `vscode` external, @smlt/shared inlined) and the
// webview script (browser) into dist/. `node build.mjs --watch` rebuilds on change.
import { build, context } from 'esbuild';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const common = { bundle: true, sourcemap: true, logLevel: 'warning', absWorkingDir: here };
const targets = [
  { ...common, entryPoints: ['src/extension.ts'], outfile: 'dist/extension.js', platform: 'node', format: 'cjs', target: 'node20', external: ['vscode'] },
  { ...common, entryPoints: ['src/webview/main.ts'], outfile: 'dist/webview.js', platform: 'browser', format: 'iife', target: 'es2022' },
];

if (process.argv.includes('--watch')) {
  for (const options of targets) await (await context(options)).watch();
} else {
  await Promise.all(targets.map((options) => build(options)));
}
