import { subgraphs } from '@cryptoagg/core';
import { GATEWAY_MAIN } from '@cryptoagg/stack';
import { freePort } from './ports.js';
import { startBundle, startScript, type RunningProcess } from './processes.js';

/** The secret the gateway sends the subgraphs (NODE_ENV=production requires one): a request straight to a subgraph sends it too. */
export const SUBGRAPH_SECRET = 'bench-subgraph-secret-0123456789';

export interface Services {
  /** every service's origin by name: each subgraph of the manifest, then each gateway */
  urls: Readonly<Record<string, string>>;
  /** one service's origin (a subgraph, or a gateway by the name it was asked for); throws for an unknown name */
  url(name: string): string;
  /** one origin per gateway asked for, by name */
  gateways: Record<string, string>;
  processes: Record<string, RunningProcess>;
  stop(): Promise<void>;
}

/**
 * The API as processes, as in production (NODE_ENV=production, the shared
 * secret): every subgraph of the manifest and one or more gateways over them,
 * on an existing database, each through tsx from its entry point. Resolves
 * once every service's /readyz answers 200.
 */
export async function startServices(options: {
  databaseUrl: string;
  redisUrl?: string | undefined;
  /** extra environment of every process */
  env?: Record<string, string>;
  /** gateways to start over the same subgraphs, each with its own extra environment; default one named 'gateway' */
  gateways?: Record<string, Record<string, string>>;
  readyWithinMs?: number;
  /** run each service from its bundle with its image's command (`npm run build` first), not its sources through tsx */
  bundles?: boolean;
}): Promise<Services> {
  const gatewayEnvs = options.gateways ?? { gateway: {} };
  const common = {
    DATABASE_URL: options.databaseUrl,
    ...(options.redisUrl ? { REDIS_URL: options.redisUrl } : {}),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
    SUBGRAPH_SECRET,
    ...options.env,
  };
  const urls: Record<string, string> = {};
  const processes: Record<string, RunningProcess> = {};
  const subgraphUrls: Record<string, string> = {};
  for (const s of subgraphs()) {
    const port = await freePort();
    urls[s.name] = `http://127.0.0.1:${port}`;
    subgraphUrls[s.url.variable] = `${urls[s.name]}/graphql`;
    const env = { ...common, [s.port.variable]: String(port) };
    processes[s.name] = options.bundles ? startBundle(s.name, env) : startScript(s.main, env);
  }
  const gateways: Record<string, string> = {};
  for (const [name, env] of Object.entries(gatewayEnvs)) {
    const port = await freePort();
    gateways[name] = urls[name] = `http://127.0.0.1:${port}`;
    const gatewayEnv = { ...common, ...env, GATEWAY_PORT: String(port), ...subgraphUrls };
    processes[`gateway:${name}`] = options.bundles ? startBundle('gateway', gatewayEnv) : startScript(GATEWAY_MAIN, gatewayEnv);
  }
  const services: Services = {
    urls,
    url: (name) => {
      const url = urls[name];
      if (url === undefined) throw new Error(`no service ${name}: running ${Object.keys(urls).join(', ')}`);
      return url;
    },
    gateways,
    processes,
    stop: async () => {
      for (const p of Object.values(processes)) p.child.kill('SIGTERM');
      await Promise.all(Object.values(processes).map((p) => p.exited));
    },
  };
  const deadline = Date.now() + (options.readyWithinMs ?? 60_000);
  for (;;) {
    const ready = await Promise.all(
      Object.values(urls).map((url) =>
        fetch(`${url}/readyz`).then(
          (r) => r.ok,
          () => false,
        ),
      ),
    );
    if (ready.every(Boolean)) return services;
    const exited = Object.entries(processes).filter(([, p]) => p.child.exitCode !== null);
    if (exited.length > 0 || Date.now() > deadline) {
      await services.stop();
      throw new Error(
        `the services did not become ready${exited.length > 0 ? ` (${exited.map(([n]) => n).join(', ')} exited)` : ''}:\n` +
          Object.entries(processes)
            .map(([n, p]) => `--- ${n}\n${p.output()}`)
            .join('\n'),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
