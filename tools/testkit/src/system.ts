import path from 'node:path';
import { createLogger, parseConfig, REPO_ROOT, subgraphs, type Logger, type Subgraph } from '@cryptoagg/core';
import { gatewayConfigSchema, startGateway } from '@cryptoagg/gateway';
import type { RunningService } from '@cryptoagg/http';
import type { z } from 'zod';
import { freePort } from './ports.js';

function parsed<S extends z.ZodType>(schema: S, env: Record<string, string>): z.output<S> {
  const result = parseConfig(schema, env);
  if (!result.ok) throw new Error(result.errors.join('\n'));
  return result.config;
}

/** What a subgraph's `service.module` (schema/subgraphs.yaml) exports as `service`. */
interface InProcessService {
  configSchema: z.ZodType;
  start(config: unknown, logger: Logger): Promise<RunningService>;
}

async function loadService(s: Subgraph): Promise<InProcessService> {
  const module = (await import(path.join(REPO_ROOT, s.module))) as { service?: Partial<InProcessService> };
  const { service } = module;
  if (typeof service?.start !== 'function' || typeof service.configSchema?.safeParse !== 'function') {
    throw new Error(`${s.module} (subgraph ${s.name} of schema/subgraphs.yaml) exports no service = { configSchema, start }`);
  }
  return service as InProcessService;
}

export interface Api {
  /** the gateway's GraphQL endpoint */
  url: string;
  gateway: RunningService;
  /** a running service by name: `gateway` or a subgraph of the manifest */
  service(name: string): RunningService;
  /** starts a stopped subgraph again, on its port, with its configuration */
  restart(name: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The whole API as in production, in this process, on free ports of
 * 127.0.0.1: every subgraph of the manifest and the gateway, talking real HTTP
 * to each other, on the caller's database and Redis. `env` adds or overrides
 * variables for all of them.
 */
export async function startApi(env: Record<string, string>): Promise<Api> {
  const common = { HOST: '127.0.0.1', LOG_LEVEL: 'silent', ...env };
  const logger = createLogger('test-api', 'silent');
  const parts = await Promise.all(
    subgraphs().map(async (s) => {
      const service = await loadService(s);
      return {
        name: s.name,
        urlVariable: s.url.variable,
        service,
        config: parsed(service.configSchema, { ...common, [s.port.variable]: String(await freePort()) }),
      };
    }),
  );
  const running = new Map<string, RunningService>();
  const stopAll = async () => {
    await running.get('gateway')?.stop();
    await Promise.all([...running].filter(([name]) => name !== 'gateway').map(([, service]) => service.stop()));
  };
  try {
    await Promise.all(parts.map(async (part) => running.set(part.name, await part.service.start(part.config, logger))));
    const urls = Object.fromEntries(parts.map((part) => [part.urlVariable, `${running.get(part.name)?.url ?? ''}/graphql`]));
    running.set('gateway', await startGateway(parsed(gatewayConfigSchema, { ...common, GATEWAY_PORT: String(await freePort()), ...urls }), logger));
  } catch (error) {
    await stopAll();
    throw error;
  }
  const service = (name: string): RunningService => {
    const found = running.get(name);
    if (!found) throw new Error(`no service ${name}: the API runs ${[...running.keys()].join(', ')}`);
    return found;
  };
  const gateway = service('gateway');
  return {
    url: `${gateway.url}/graphql`,
    gateway,
    service,
    restart: async (name) => {
      const part = parts.find((p) => p.name === name);
      if (!part) throw new Error(`no subgraph ${name} to restart`);
      running.set(name, await part.service.start(part.config, logger));
    },
    stop: stopAll,
  };
}
