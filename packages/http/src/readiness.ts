import { redactUrls, type Logger } from '@cryptoagg/core';

export type ReadinessChecks = Record<string, () => Promise<boolean | void>>;

export interface ReadinessReport {
  ready: boolean;
  body: { status: 'ready'; checks: Record<string, 'up' | 'down'> } | { status: 'unavailable'; down: string[]; checks: Record<string, 'up' | 'down'> };
}

/** Why a check failed, or undefined when it is up; a check that hangs counts as down. */
async function run(check: () => Promise<boolean | void>, timeoutMs: number): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(resolve, timeoutMs, 'timeout');
  });
  try {
    const result = await Promise.race([check(), timeout]);
    if (result === 'timeout') return `no answer within ${timeoutMs} ms`;
    return result === false ? 'check answered false' : undefined;
  } catch (error) {
    return redactUrls(error instanceof Error ? error.message : String(error));
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs every check concurrently. Probes call this every few seconds, so only a change of
 * state is logged: a dependency that stays down does not flood the logs.
 *
 * `exclude` (from `/readyz?exclude=redis`, the convention of Kubernetes' own
 * API server) still runs and reports those checks but does not let them fail
 * the answer: a subgraph answers from Postgres while Redis is down, so its
 * Kubernetes readiness probe excludes Redis rather than take every pod out of
 * service during a cache outage.
 */
export function readiness(checks: ReadinessChecks, logger: Logger, timeoutMs = 2_000): (exclude?: readonly string[]) => Promise<ReadinessReport> {
  let lastDown = '';
  return async (exclude = []) => {
    const results = await Promise.all(Object.entries(checks).map(async ([name, check]) => ({ name, reason: await run(check, timeoutMs) })));
    const checked = Object.fromEntries(results.map(({ name, reason }) => [name, reason === undefined ? 'up' : 'down'] as const));
    const failed = results.filter(({ reason }) => reason !== undefined);
    const down = failed.map(({ name }) => name);
    if (down.join() !== lastDown) {
      if (down.length > 0) logger.warn({ down: Object.fromEntries(failed.map(({ name, reason }) => [name, reason])) }, 'not ready');
      else logger.info('ready again');
      lastDown = down.join();
    }
    return down.every((name) => exclude.includes(name))
      ? { ready: true, body: { status: 'ready', checks: checked } }
      : { ready: false, body: { status: 'unavailable', down, checks: checked } };
  };
}
