import { badInput, characterCount, quoted } from './errors.js';
import { storableText } from './input.js';

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
    throw badInput(argument, `unknown currency ${quoted(currency)}; allowed: ${configured.join(', ')}`);
  }
  return normalised;
}

// ISO-8601 date-time with an explicit offset (Z or ±hh:mm), optional fraction.
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/i;

/** A DateTime argument: an ISO-8601 date-time with an offset. */
export function parseDateTime(argument: string, value: string): Date {
  const date = ISO_DATE_TIME.test(value) ? new Date(value) : new Date(Number.NaN);
  if (Number.isNaN(date.getTime())) {
    throw badInput(argument, `must be an ISO-8601 date-time with an offset, like 2026-11-26T09:25:00Z; got ${quoted(value)}`);
  }
  return date;
}

/**
 * A free-text argument that reaches SQL (compared, not stored): trimmed, null when empty, refused
 * when PostgreSQL could not take it or when longer than `maxLength` characters.
 */
export function textArgument(argument: string, value: string | null | undefined, maxLength: number): string | null {
  const text = value?.trim() || null;
  if (text === null) return null;
  if (!storableText(text)) throw badInput(argument, 'must not contain NUL characters or unpaired surrogates');
  const length = characterCount(text);
  if (length > maxLength) {
    throw badInput(argument, `must be at most ${maxLength.toLocaleString('en')} characters, got ${length.toLocaleString('en')}`);
  }
  return text;
}
