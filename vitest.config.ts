import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // graphql 16 has a CommonJS build (`main`) and an ES build (`module`). Node, and so every dependency
    // (@apollo/*), loads the CommonJS one; vitest would resolve our own `import 'graphql'` to the ES one, and
    // graphql refuses the schemas and types of the other copy. Pointing ours at the CommonJS build loads it once.
    alias: [{ find: /^graphql$/, replacement: createRequire(import.meta.url).resolve('graphql') }],
  },
  test: {
    include: [
      'packages/*/test/**/*.test.ts',
      'tools/*/test/**/*.test.ts',
      'jobs/*/test/**/*.test.ts',
      'subgraphs/*/test/**/*.test.ts',
      'gateway/test/**/*.test.ts',
      'test/**/*.test.ts',
    ],
    globalSetup: ['tools/testkit/src/global-setup.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
