import { z } from 'zod';

/*
 * The upstream is validated against what PostgreSQL accepts, not only against
 * JSON types: an item the database cannot hold (a NUL or an unpaired surrogate
 * in text, an int4 overflow, a key too long for a btree entry, a date the
 * partitions cannot take) would fail the whole run's transaction, so it is
 * skipped and counted here like any malformed item.
 */

/** Coin ids key every table and go into URLs; 200 characters is far above any real one and far below a btree entry's limit. */
const MAX_ID_LENGTH = 200;
const MAX_SYMBOL_LENGTH = 100;
const MAX_NAME_LENGTH = 500;
const MAX_URL_LENGTH = 2_048;
const MAX_DESCRIPTION_LENGTH = 100_000;
const MAX_CATEGORY_LENGTH = 200;
const MAX_LIST_LENGTH = 100;
const INT4_MAX = 2_147_483_647;
/** How far after the fetch an upstream `last_updated` may lie (clock skew); a later one would pin the latest quote for good. */
const MAX_FUTURE_MS = 3_600_000;
/** No market quote predates Bitcoin's genesis block: an older `last_updated` is a broken date, not history. */
const OLDEST_LAST_UPDATED = Date.UTC(2009, 0, 3);

// In unicode mode a well-formed pair is one code point, so only a lone surrogate matches.
const UNPAIRED_SURROGATE = /\p{Cs}/u;

/** Why PostgreSQL would refuse this text, or undefined when it can hold it. */
function textProblem(value: string, max: number): string | undefined {
  if (value.length > max) return `longer than ${max} characters (${value.length})`;
  if (value.includes('\u0000')) return 'contains a NUL character';
  if (UNPAIRED_SURROGATE.test(value)) return 'contains an unpaired surrogate';
  return undefined;
}

/** A string PostgreSQL can store in a text column, at most `max` characters. */
const text = (max: number) =>
  z.string().check((ctx) => {
    const problem = textProblem(ctx.value, max);
    if (problem) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
  });

/** A finite number (JSON's 1e999 parses to Infinity) that is not negative: prices, caps and volumes. */
const amount = z.number().check((ctx) => {
  if (ctx.value < 0) ctx.issues.push({ code: 'custom', message: `negative (${ctx.value})`, input: ctx.value });
});

/** A number the upstream may omit or send as null; anything else (a string, an object) fails the item. */
const optional = <T extends z.ZodType<number>>(schema: T) => schema.nullish().transform((v) => v ?? null);

const rank = z.number().check((ctx) => {
  if (!Number.isInteger(ctx.value) || ctx.value < 1 || ctx.value > INT4_MAX) {
    ctx.issues.push({ code: 'custom', message: `${ctx.value} is not an integer in 1..${INT4_MAX}`, input: ctx.value });
  }
});

const isoDateTime = z.iso.datetime({ offset: true });

/**
 * Why `last_updated` cannot identify a snapshot, or undefined when it can. The
 * future is measured from `now`, the moment the item is validated, which is
 * the moment its page was fetched.
 */
function lastUpdatedProblem(value: string, now = Date.now()): string | undefined {
  if (!isoDateTime.safeParse(value).success) return 'not an ISO-8601 date-time with an offset';
  const time = Date.parse(value);
  if (time < OLDEST_LAST_UPDATED) return `${value} is before ${new Date(OLDEST_LAST_UPDATED).toISOString()}`;
  if (time > now + MAX_FUTURE_MS) return `${value} is more than an hour after the fetch (${new Date(now).toISOString()})`;
  return undefined;
}

const lastUpdated = z.string().check((ctx) => {
  const problem = lastUpdatedProblem(ctx.value);
  if (problem) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
});

/** One item of GET /coins/markets. Unknown extra fields are ignored. */
export const marketItemSchema = z.object({
  id: text(MAX_ID_LENGTH).min(1),
  symbol: text(MAX_SYMBOL_LENGTH),
  name: text(MAX_NAME_LENGTH),
  image: text(MAX_URL_LENGTH)
    .nullish()
    .transform((v) => v || null),
  // A quote without a usable price is worthless: the item is skipped.
  current_price: amount,
  market_cap: optional(amount),
  market_cap_rank: optional(rank),
  total_volume: optional(amount),
  high_24h: optional(z.number()),
  low_24h: optional(z.number()),
  price_change_24h: optional(z.number()),
  price_change_percentage_24h: optional(z.number()),
  circulating_supply: optional(z.number()),
  // The snapshot's identity: without it the item cannot be stored idempotently.
  last_updated: lastUpdated,
});

export type MarketItem = z.output<typeof marketItemSchema>;

/** A calendar date PostgreSQL's `date` takes: YYYY-MM-DD that exists (no 2021-02-30, no year 0). */
const calendarDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/)
  .check((ctx) => {
    const [year = 0, month = 0, day = 0] = ctx.value.split('-').map(Number);
    const date = new Date(Date.UTC(year, month - 1, day));
    const exists = year >= 1 && date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
    if (!exists) ctx.issues.push({ code: 'custom', message: `${ctx.value} is not a calendar date`, input: ctx.value });
  });

/** GET /coins/{id} with every optional section turned off: only the metadata we keep. */
export const coinDetailSchema = z
  .object({
    id: text(MAX_ID_LENGTH).min(1),
    description: z.object({ en: text(MAX_DESCRIPTION_LENGTH).nullish() }).nullish(),
    links: z.object({ homepage: z.array(text(MAX_URL_LENGTH).nullable()).max(MAX_LIST_LENGTH).nullish() }).nullish(),
    categories: z.array(text(MAX_CATEGORY_LENGTH).nullable()).max(MAX_LIST_LENGTH).nullish(),
    genesis_date: calendarDate.nullish(),
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
