import type { Knex } from '@cryptoagg/db';
import { afterPosition, type Position } from '@cryptoagg/graphql';
import { COIN_COLUMNS, type CoinModel, type CoinPage } from './models.js';

/** The SQL of the coins subgraph: reads of the coins table, behind small named functions. */

export async function coinsByIds(db: Knex, ids: readonly string[]): Promise<CoinModel[]> {
  return db('coins')
    .select<CoinModel[]>([...COIN_COLUMNS])
    .whereIn('id', [...ids]);
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** A page of coins whose name or symbol contains `search` (case-insensitive), in (rank nulls last, id) order. */
export async function searchCoins(db: Knex, search: string | null, first: number, after: Position | undefined): Promise<CoinPage> {
  const matching = (query: Knex.QueryBuilder) => {
    if (search) {
      const pattern = `%${escapeLike(search)}%`;
      void query.where((q) => void q.whereILike('name', pattern).orWhereILike('symbol', pattern));
    }
    return query;
  };
  const page = matching(db('coins').select([...COIN_COLUMNS]));
  if (after) void page.whereRaw(...afterPosition(after, 'market_cap_rank', 'id'));
  const [rows, total] = await Promise.all([
    page.orderByRaw('market_cap_rank asc nulls last, id asc').limit(first + 1) as Promise<CoinModel[]>,
    matching(db('coins')).count<{ count: number }[]>('* as count'),
  ]);
  return { totalCount: Number(total[0]?.count ?? 0), hasNextPage: rows.length > first, coins: rows.slice(0, first) };
}
