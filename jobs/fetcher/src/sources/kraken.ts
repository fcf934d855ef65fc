import { z } from 'zod';
import { UpstreamError } from '../upstream/client.js';
import { describeIssues } from '../upstream/schemas.js';
import { normalizeAsset } from './mapping.js';
import { decimal, eachLimited, pairName, type ExchangeAdapter, type ListedPair, type Ticker } from './types.js';

/**
 * Kraken: `GET /0/public/AssetPairs` (altname, wsname, base, quote, status) and
 * `GET /0/public/Ticker?pair=A,B,...`; price = c[0], volume = v[1] (the last 24 hours), numbers as
 * strings. Errors arrive as HTTP 200 with a non-empty `error` array (`EService:Unavailable`,
 * `EQuery:Unknown asset pair`); bitcoin is XBT (XXBT), dogecoin XDG (XXDG), and older assets carry
 * X/Z prefixes (XETH, ZUSD) that mapping.ts's aliases resolve. The ticker answer is keyed by the
 * pair's AssetPairs key (XXBTZUSD) even when asked by its altname (XBTUSD); the API shows the
 * altname. Pairs not `online` are left out.
 */

const pairSchema = z.object({
  altname: pairName,
  wsname: z.string().optional(),
  base: z.string().min(1),
  quote: z.string().min(1),
  status: z.string().optional(),
});
const tickerSchema = z.object({
  c: z.tuple([decimal], decimal),
  v: z.tuple([decimal, decimal]).rest(z.unknown()),
});
const envelopeSchema = z.object({ result: z.record(z.string(), z.unknown()) });

/** Pairs per Ticker request: keeps the URL short. */
const PAIRS_PER_REQUEST = 40;

/** Kraken's transient errors, retried like a 5xx; the others (an unknown pair, a bad argument) are not. */
const TRANSIENT = /^E(Service:|API:Rate limit|General:Temporary)/;

function resultOf(data: unknown, path: string): Record<string, unknown> {
  const parsed = envelopeSchema.safeParse(data);
  if (!parsed.success) throw new UpstreamError(`GET ${path}: not the expected shape (${describeIssues(parsed.error)})`, 'invalid', false);
  return parsed.data.result;
}

export const kraken: ExchangeAdapter = {
  name: 'kraken',
  // Kraken's public endpoints tolerate about one request a second.
  rate: { limit: 1, windowMs: 1_000 },

  inspect(data, path) {
    const errors = (data as { error?: unknown } | null)?.error;
    if (!Array.isArray(errors)) return undefined;
    // Entries starting with W are warnings; only E entries are errors.
    const fatal = errors.filter((e): e is string => typeof e === 'string' && e.startsWith('E'));
    if (fatal.length === 0) return undefined;
    const shown = fatal.slice(0, 3).map((e) => e.slice(0, 80));
    return new UpstreamError(
      `GET ${path}: Kraken error ${shown.join(', ')}`,
      'api-error',
      fatal.every((e) => TRANSIENT.test(e)),
    );
  },

  async listPairs({ http, tally }) {
    const path = '/0/public/AssetPairs';
    const pairs: ListedPair[] = [];
    for (const [key, raw] of Object.entries(resultOf(await http.get(path), path))) {
      const parsed = pairSchema.safeParse(raw);
      if (!parsed.success) {
        tally.skip(`${key.slice(0, 40)}: ${describeIssues(parsed.error)}`);
        continue;
      }
      const p = parsed.data;
      // Dark-pool books (`.d`) have no public ticker of their own.
      if ((p.status !== undefined && p.status !== 'online') || p.altname.endsWith('.d')) {
        tally.notTrading += 1;
        continue;
      }
      const [wsBase, wsQuote] = p.wsname?.split('/') ?? [];
      pairs.push({
        pair: p.altname,
        base: normalizeAsset(wsBase ?? p.base),
        quote: normalizeAsset(wsQuote ?? p.quote),
        resultKey: key,
      });
    }
    return pairs;
  },

  async fetchTickers({ http, tally, signal }, pairs) {
    const chunks: ListedPair[][] = [];
    for (let i = 0; i < pairs.length; i += PAIRS_PER_REQUEST) chunks.push(pairs.slice(i, i + PAIRS_PER_REQUEST));
    let firstError: unknown;
    let failed = 0;
    const answers = await eachLimited(chunks, 2, async (chunk): Promise<Ticker[]> => {
      const path = '/0/public/Ticker';
      let result: Record<string, unknown>;
      try {
        result = resultOf(await http.get(path, { pair: chunk.map((p) => p.pair).join(',') }), path);
      } catch (error) {
        if (signal.aborted) throw error;
        firstError ??= error;
        failed += 1;
        tally.skip(`${chunk.length} pairs: ${error instanceof Error ? error.message : String(error)}`);
        return [];
      }
      const tickers: Ticker[] = [];
      for (const p of chunk) {
        const raw = (p.resultKey !== undefined ? result[p.resultKey] : undefined) ?? result[p.pair];
        if (raw === undefined) {
          tally.skip(`${p.pair}: not in the ticker answer`);
          continue;
        }
        const parsed = tickerSchema.safeParse(raw);
        if (!parsed.success) {
          tally.skip(`${p.pair}: ${describeIssues(parsed.error)}`);
          continue;
        }
        const [price] = parsed.data.c;
        if (price === 0) {
          tally.notTrading += 1;
          continue;
        }
        tickers.push({ pair: p.pair, price, volume: parsed.data.v[1] });
      }
      return tickers;
    });
    if (chunks.length > 0 && failed === chunks.length) throw firstError instanceof Error ? firstError : new Error(String(firstError));
    return answers.flat();
  },
};
