import { characterCount } from './errors.js';

/*
 * What PostgreSQL can hold, decided before any SQL. A value it refuses fails the whole statement
 * (NUL 22021, unpaired surrogates 22P02/22P05, int4 overflow 22003, btree entries over ~2.7 KB 54000),
 * and a statement is shared: one DataLoader batch, one in-flight cache load for every request that
 * asked for the same keys. So a hostile value has to be answered on its own, up front.
 */

/** The longest coin id there can be: the fetcher stores none longer, so a longer one names no coin. */
export const MAX_ID_LENGTH = 200;

const INT4_MIN = -2_147_483_648;
const INT4_MAX = 2_147_483_647;

// With the u flag a surrogate pair is one code point, so \p{Cs} matches only unpaired halves.
const UNSTORABLE = /[\0\p{Cs}]/u;

/** Text PostgreSQL accepts: no NUL character and no unpaired UTF-16 surrogate. */
export function storableText(value: string): boolean {
  return !UNSTORABLE.test(value);
}

/** Whether `id` could be a stored coin id; one that cannot is answered like any unknown id, without a lookup. */
export function possibleId(id: unknown): id is string {
  return typeof id === 'string' && storableText(id) && (id.length <= MAX_ID_LENGTH || characterCount(id) <= MAX_ID_LENGTH);
}

export function isInt4(value: number): boolean {
  return Number.isInteger(value) && value >= INT4_MIN && value <= INT4_MAX;
}
