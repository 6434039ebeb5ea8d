/** Whether a process of this user still runs, for telling a live owner of a file or folder from a dead one. */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    // ESRCH: gone. EPERM: a process of another user took the pid, so not ours either.
    return false;
  }
}
