/**
 * Test hosts installed outside npm (Debian packages, editors): a test file skips, naming the
 * setup command, when its host is missing — except in CI (`SMLT_REQUIRE_E2E=1`), where it fails.
 */
import { spawnSync } from 'node:child_process';

/** A skip message when `command` is not on PATH, else false; throws instead in CI. */
export function hostMissing(command: string, setup: string): string | false {
  const found = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).status === 0;
  if (found) return false;
  const message = `${command} is not installed: ${setup}`;
  if (process.env.SMLT_REQUIRE_E2E === '1') throw new Error(`SMLT_REQUIRE_E2E=1 but ${message}`);
  return message;
}
