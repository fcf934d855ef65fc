import { runScript } from '@cryptoagg/testkit';

/** `npm run build`: the benchmarks run the services from their bundles, as the images do. */
export async function buildBundles(): Promise<void> {
  const built = await runScript('tools/stack/src/build.ts', {}, 120_000);
  if (built.code !== 0) throw new Error(`npm run build failed:\n${built.stdout}${built.stderr}`);
}
