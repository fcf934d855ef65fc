import { z } from 'zod';

/** A number the upstream may omit or send as null; anything else (a string, an object) fails the item. */
const optionalNumber = z
  .number()
  .nullish()
  .transform((v) => v ?? null);

/** One item of GET /coins/markets. Unknown extra fields are ignored. */
export const marketItemSchema = z.object({
  id: z.string().min(1),
  symbol: z.string(),
  name: z.string(),
  image: z
    .string()
    .nullish()
    .transform((v) => v || null),
  // A quote without a usable price is worthless: the item is skipped.
  current_price: z.number(),
  market_cap: optionalNumber,
  market_cap_rank: z
    .number()
    .int()
    .positive()
    .nullish()
    .transform((v) => v ?? null),
  total_volume: optionalNumber,
  high_24h: optionalNumber,
  low_24h: optionalNumber,
  price_change_24h: optionalNumber,
  price_change_percentage_24h: optionalNumber,
  circulating_supply: optionalNumber,
  // The snapshot's identity: without it the item cannot be stored idempotently.
  last_updated: z.iso.datetime({ offset: true }),
});

export type MarketItem = z.output<typeof marketItemSchema>;

/** GET /coins/{id} with every optional section turned off: only the metadata we keep. */
export const coinDetailSchema = z
  .object({
    id: z.string().min(1),
    description: z.object({ en: z.string().nullish() }).nullish(),
    links: z.object({ homepage: z.array(z.string().nullable()).nullish() }).nullish(),
    categories: z.array(z.string().nullable()).nullish(),
    genesis_date: z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}$/)
      .nullish(),
  })
  .transform((d) => ({
    id: d.id,
    description: d.description?.en?.trim() || null,
    homepage: d.links?.homepage?.map((h) => h?.trim()).find((h) => !!h) ?? null,
    categories: [...new Set((d.categories ?? []).filter((c): c is string => !!c?.trim()))],
    genesisDate: d.genesis_date ?? null,
  }));

export type CoinMetadata = z.output<typeof coinDetailSchema>;

/** A short, single-line account of why an item failed validation. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(item)'}: ${i.message}`).join('; ');
}
