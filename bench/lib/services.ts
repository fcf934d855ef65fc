import { freePort, startScript, type RunningProcess } from '@cryptoagg/testkit';

/**
 * The API processes (coins and prices subgraphs, and one or more gateways) on
 * an existing database, as in production, for a benchmark that prepared the
 * data itself (bench/lib/stack.ts makes its own database and runs the fetcher).
 */
/** The secret the gateway sends the subgraphs (NODE_ENV=production requires one): a request straight to a subgraph sends it too. */
export const SUBGRAPH_SECRET = 'bench-subgraph-secret-0123456789';

export interface Services {
  coinsUrl: string;
  pricesUrl: string;
  /** one URL per gateway asked for, by name */
  gateways: Record<string, string>;
  stop(): Promise<void>;
}

export async function startServices(options: {
  databaseUrl: string;
  redisUrl?: string | undefined;
  /** extra environment of every process */
  env?: Record<string, string>;
  /** gateways to start over the same subgraphs, each with its own extra environment; default one named 'gateway' */
  gateways?: Record<string, Record<string, string>>;
}): Promise<Services> {
  const gatewayEnvs = options.gateways ?? { gateway: {} };
  const [coinsPort, pricesPort] = [await freePort(), await freePort()];
  const gatewayPorts: Record<string, number> = {};
  for (const name of Object.keys(gatewayEnvs)) gatewayPorts[name] = await freePort();
  const common = {
    DATABASE_URL: options.databaseUrl,
    ...(options.redisUrl ? { REDIS_URL: options.redisUrl } : {}),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
    SUBGRAPH_SECRET,
    ...options.env,
  };
  const processes: Record<string, RunningProcess> = {
    coins: startScript('subgraphs/coins/src/main.ts', { ...common, COINS_PORT: String(coinsPort) }),
    prices: startScript('subgraphs/prices/src/main.ts', { ...common, PRICES_PORT: String(pricesPort) }),
  };
  for (const [name, env] of Object.entries(gatewayEnvs)) {
    processes[`gateway:${name}`] = startScript('gateway/src/main.ts', {
      ...common,
      ...env,
      GATEWAY_PORT: String(gatewayPorts[name]),
      COINS_URL: `http://127.0.0.1:${coinsPort}/graphql`,
      PRICES_URL: `http://127.0.0.1:${pricesPort}/graphql`,
    });
  }
  const services: Services = {
    coinsUrl: `http://127.0.0.1:${coinsPort}`,
    pricesUrl: `http://127.0.0.1:${pricesPort}`,
    gateways: Object.fromEntries(Object.entries(gatewayPorts).map(([name, port]) => [name, `http://127.0.0.1:${port}`])),
    stop: async () => {
      for (const p of Object.values(processes)) p.child.kill('SIGTERM');
      await Promise.all(Object.values(processes).map((p) => p.exited));
    },
  };
  const urls = [services.coinsUrl, services.pricesUrl, ...Object.values(services.gateways)];
  const deadline = Date.now() + 60_000;
  for (;;) {
    const ready = await Promise.all(urls.map((url) => fetch(`${url}/readyz`).then((r) => r.ok, () => false)));
    if (ready.every(Boolean)) return services;
    const exited = Object.entries(processes).filter(([, p]) => p.child.exitCode !== null);
    if (exited.length > 0 || Date.now() > deadline) {
      await services.stop();
      throw new Error(
        `the services did not become ready${exited.length > 0 ? ` (${exited.map(([n]) => n).join(', ')} exited)` : ''}:\n` +
          Object.entries(processes).map(([n, p]) => `--- ${n}\n${p.output()}`).join('\n'),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
