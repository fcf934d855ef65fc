import { writeFileSync } from 'node:fs';
import { SUPERGRAPH_PATH } from '@cryptoagg/core';
import { composeSupergraph } from './compose.js';

// `npm run compose`: writes gateway/supergraph.graphql, or fails loudly (exit 1) naming every composition error.
try {
  const { supergraphSdl } = composeSupergraph();
  writeFileSync(SUPERGRAPH_PATH, `${supergraphSdl}\n`);
  process.stdout.write(`wrote ${SUPERGRAPH_PATH}\n`);
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
