import { generateDocs } from './generate.js';

// `npm run docs`: docs/schema.md and docs/site/, or a non-zero exit naming what failed.
try {
  await generateDocs({ log: (line) => process.stdout.write(`${line}\n`) });
} catch (error) {
  process.stderr.write(`npm run docs failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
