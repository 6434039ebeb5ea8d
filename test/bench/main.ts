/**
 * `npm run bench -- <name>`: benchmarks that print ratios against a baseline measured in the
 * same process. They are not tests: nothing here asserts on time.
 */
const benches: Record<string, () => Promise<unknown>> = {
  sync: async () => (await import('./sync.js')).main(process.argv.slice(3)),
  worker: async () => (await import('./worker.js')).main(process.argv.slice(3)),
  backends: async () => (await import('./backends.js')).main(process.argv.slice(3)),
  scheduler: async () => (await import('./scheduler.js')).main(process.argv.slice(3)),
  'sizing-rss': async () => (await import('./sizing-rss.js')).main(process.argv.slice(3)),
  channels: async () => (await import('./channels.js')).main(process.argv.slice(3)),
  estimate: async () => (await import('./estimate.js')).main(process.argv.slice(3)),
  'serve-memory': async () => (await import('./serve-memory.js')).main(process.argv.slice(3)),
  sweep: async () => (await import('./sweep.js')).main(process.argv.slice(3)),
};

const name = process.argv[2];
const bench = name ? benches[name] : undefined;
if (!bench) {
  process.stderr.write(`usage: npm run bench -- <${Object.keys(benches).join('|')}> [options]\n`);
  process.exit(2);
}
await bench();
