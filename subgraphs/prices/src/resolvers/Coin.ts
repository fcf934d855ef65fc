import { badInput, parseDateTime, possibleId, quoteCurrency } from '@cryptoagg/graphql';
import type { CoinResolvers } from '../__generated__/resolvers-types.js';
import { candles, historyPoints } from '../data.js';
import type { CandleModel, HistoryPointModel } from '../models.js';

const MAX_HISTORY_POINTS = 10_000;

export const Coin: CoinResolvers = {
  // Any id is a valid reference: quote and history answer null / [] for coins without data. Not
  // an id at all (a representation sent straight to the subgraph may carry any JSON) is no coin.
  __resolveReference: ({ id }: { id: unknown }) => (typeof id === 'string' ? { id } : null),

  quote: ({ id }, { currency }, context) => context.quote.load({ currency: quoteCurrency(currency, context.currencies), coinId: id }),

  history: async ({ id }, args, context) => {
    const currency = quoteCurrency(args.currency, context.currencies);
    const from = parseDateTime('from', args.from);
    const to = parseDateTime('to', args.to);
    if (from > to) throw badInput('from', `must not be after to (from ${from.toISOString()}, to ${to.toISOString()})`);
    const interval = args.interval ?? 'RAW';
    // No coin has an id the database cannot hold (a reference sent straight to this subgraph can carry one).
    if (!possibleId(id)) return [];
    const key = `${context.keyPrefix}history:${JSON.stringify([id, currency, from.toISOString(), to.toISOString(), interval])}`;
    const points = await context.services.cache.get<HistoryPointModel[]>(key, () =>
      historyPoints(context.services.db, { coinId: id, currency, from, to, interval }, MAX_HISTORY_POINTS + 1),
    );
    if (points.length > MAX_HISTORY_POINTS) {
      throw badInput(
        'interval',
        `the answer would hold more than ${MAX_HISTORY_POINTS.toLocaleString('en')} points; use a coarser interval (${interval === 'DAY' ? 'or a shorter range' : interval === 'HOUR' ? 'DAY' : 'HOUR or DAY'}) or a shorter range`,
      );
    }
    return points;
  },

  // Same arguments, checks, caching and limit as history, from the same rollups.
  candles: async ({ id }, args, context) => {
    const currency = quoteCurrency(args.currency, context.currencies);
    const from = parseDateTime('from', args.from);
    const to = parseDateTime('to', args.to);
    if (from > to) throw badInput('from', `must not be after to (from ${from.toISOString()}, to ${to.toISOString()})`);
    const { interval } = args;
    if (!possibleId(id)) return [];
    const key = `${context.keyPrefix}candles:${JSON.stringify([id, currency, from.toISOString(), to.toISOString(), interval])}`;
    const found = await context.services.cache.get<CandleModel[]>(key, () =>
      candles(context.services.db, { coinId: id, currency, from, to, interval }, MAX_HISTORY_POINTS + 1),
    );
    if (found.length > MAX_HISTORY_POINTS) {
      throw badInput(
        'interval',
        `the answer would hold more than ${MAX_HISTORY_POINTS.toLocaleString('en')} candles; use ${interval === 'HOUR' ? 'DAY or ' : ''}a shorter range`,
      );
    }
    return found;
  },
};
