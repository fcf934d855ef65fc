import { badInput } from './errors.js';

export const MAX_PAGE_SIZE = 250;

/** `first` of a connection: 1..250. */
export function pageSize(first: number | null | undefined, fallback = 100): number {
  const size = first ?? fallback;
  if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) {
    throw badInput('first', `must be between 1 and ${MAX_PAGE_SIZE}, got ${size}`);
  }
  return size;
}

/** A quote currency argument: one of the configured currencies (case-insensitive); null means the first. */
export function quoteCurrency(currency: string | null | undefined, configured: readonly string[], argument = 'currency'): string {
  const fallback = configured[0];
  if (!fallback) throw new Error('no quote currency configured');
  if (currency === null || currency === undefined) return fallback;
  const normalised = currency.trim().toLowerCase();
  if (!configured.includes(normalised)) {
    throw badInput(argument, `unknown currency "${currency}"; allowed: ${configured.join(', ')}`);
  }
  return normalised;
}

// ISO-8601 date-time with an explicit offset (Z or ±hh:mm), optional fraction.
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/i;

/** A DateTime argument: an ISO-8601 date-time with an offset. */
export function parseDateTime(argument: string, value: string): Date {
  const date = ISO_DATE_TIME.test(value) ? new Date(value) : new Date(Number.NaN);
  if (Number.isNaN(date.getTime())) {
    throw badInput(argument, `must be an ISO-8601 date-time with an offset, like 2026-11-26T09:25:00Z; got "${value}"`);
  }
  return date;
}
