import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { startStack, type Stack } from '@cryptoagg/testkit';
import { requireTool } from '@cryptoagg/testkit/tools';
import { memoryRecovered, soak } from '../../bench/soak.js';

/* A short soak in every test run (`npm run soak` runs the full 60 s one): a fixed rate through the gateway, Redis killed and restarted midway. */
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ adminDatabaseUrl: inject('adminDatabaseUrl'), coins: 50 });
}, 120_000);
afterAll(() => stack.stop());

// The stack's Redis is a redis-server of its own, killed and restarted midway.
it.skipIf(!requireTool('redis-server'))(
  'answers every request at a fixed rate while Redis is killed and restarted, and memory returns to baseline',
  async () => {
    const result = await soak(stack, { seconds: 12, rate: 30 });
    expect(result.failures).toEqual([]);
    expect(result.sent).toBe(360);
    for (const [service, memory] of Object.entries(result.memoryMb)) expect(memoryRecovered(memory), `${service} ${JSON.stringify(memory)}`).toBe(true);
  },
  120_000,
);
