import { badInput } from './errors.js';
import { isInt4, possibleId } from './input.js';

/** Position of an item in the (market_cap_rank nulls last, id) order every listing uses. */
export interface Position {
  rank: number | null;
  id: string;
}

/** Cursors are opaque to clients: base64url of the keyset position. */
export function encodeCursor(position: Position): string {
  return Buffer.from(JSON.stringify([position.rank, position.id])).toString('base64url');
}

export function decodeCursor(cursor: string | null | undefined): Position | undefined {
  if (cursor === null || cursor === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 2) {
      const [rank, id] = value as unknown[];
      // Positions outside what the columns hold came from no page of ours: refused, not sent to SQL.
      if ((rank === null || (typeof rank === 'number' && isInt4(rank))) && possibleId(id)) return { rank, id };
    }
  } catch {
    // fall through to the error below
  }
  throw badInput('after', 'malformed cursor; pass the endCursor (or an edge cursor) of a previous page');
}

/**
 * SQL that keeps rows after `position` in (rank asc nulls last, id) order, for
 * knex's whereRaw with the given column names.
 */
export function afterPosition(position: Position, rankColumn: string, idColumn: string): [string, (string | number)[]] {
  if (position.rank === null) return [`(${rankColumn} is null and ${idColumn} > ?)`, [position.id]];
  return [`(${rankColumn} > ? or (${rankColumn} = ? and ${idColumn} > ?) or ${rankColumn} is null)`, [position.rank, position.rank, position.id]];
}
