/**
 * Loaded (`--import`) into every process the supervisor runs. Each runs in a
 * process group of its own, out of a terminal's reach, so a supervisor that
 * dies without stopping it (SIGKILL, a crash) would leave it running, holding
 * its port. Its stdin is a pipe from the supervisor that nothing writes to:
 * the system closes it when the supervisor exits, however it exits, and the
 * process then stops as on SIGTERM (gracefully).
 */
import type { Socket } from 'node:net';

process.stdin.once('end', () => {
  // Under `node --watch` (npm run dev) the parent is the watcher, which passes SIGTERM on to this process and then exits
  // too; it marks the processes it runs with this variable.
  process.kill(process.env.WATCH_REPORT_DEPENDENCIES ? process.ppid : process.pid, 'SIGTERM');
});
process.stdin.resume();
// Reading stdin must not keep a process alive that is done (the fetcher, a job).
(process.stdin as NodeJS.ReadStream & Partial<Pick<Socket, 'unref'>>).unref?.();
