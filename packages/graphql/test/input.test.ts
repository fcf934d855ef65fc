import { describe, expect, it } from 'vitest';
import { characterCount, decodeCursor, encodeCursor, parseDateTime, possibleId, quoteCurrency, quoted, storableText, textArgument } from '../src/index.js';

const MALFORMED = 'after: malformed cursor; pass the endCursor (or an edge cursor) of a previous page';
const cursorOf = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const message = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('did not throw');
};

describe('quoted', () => {
  it('quotes a value of up to 64 characters in full', () => {
    expect(quoted('gbp')).toBe('"gbp"');
    expect(quoted('x'.repeat(64))).toBe(`"${'x'.repeat(64)}"`);
  });

  it('cuts a longer value to 64 characters and its count', () => {
    expect(quoted('a'.repeat(262_144))).toBe(`"${'a'.repeat(64)}…" (262,144 characters)`);
    expect(quoted('x'.repeat(65))).toBe(`"${'x'.repeat(64)}…" (65 characters)`);
  });

  it('counts and cuts characters, never half of a surrogate pair', () => {
    expect(quoted('😀'.repeat(100))).toBe(`"${'😀'.repeat(64)}…" (100 characters)`);
    expect(characterCount('😀\ud800')).toBe(2);
  });
});

describe('what PostgreSQL can hold', () => {
  it.each([
    ['bitcoin', true],
    ['1move token', true],
    ['😀', true],
    ['', true],
    ['a\u0000b', false],
    ['\ud800', false],
    ['x\udc00', false],
    ['😀\ud83d', false],
  ])('storableText(%j) = %s', (value, expected) => {
    expect(storableText(value)).toBe(expected);
  });

  it('an id is possible up to 200 characters of storable text', () => {
    expect(possibleId('a'.repeat(200))).toBe(true);
    expect(possibleId('😀'.repeat(200))).toBe(true);
    expect(possibleId('a'.repeat(201))).toBe(false);
    expect(possibleId('😀'.repeat(201))).toBe(false);
    expect(possibleId('bit\u0000coin')).toBe(false);
    expect(possibleId('\udfff')).toBe(false);
    expect(possibleId(42)).toBe(false);
    expect(possibleId(null)).toBe(false);
  });
});

describe('textArgument', () => {
  it('trims, and answers null for nothing to look for', () => {
    expect(textArgument('search', '  bit ', 200)).toBe('bit');
    expect(textArgument('search', '   ', 200)).toBeNull();
    expect(textArgument('search', null, 200)).toBeNull();
    expect(textArgument('search', 'K', 200)).toBe('K');
  });

  it('refuses text PostgreSQL cannot take, naming the argument', () => {
    expect(message(() => textArgument('search', 'bit\u0000', 200))).toBe('search: must not contain NUL characters or unpaired surrogates');
    expect(message(() => textArgument('search', '\ud800', 200))).toBe('search: must not contain NUL characters or unpaired surrogates');
  });

  it('refuses text over the bound, and accepts text at it', () => {
    expect(textArgument('search', 'k'.repeat(200), 200)).toBe('k'.repeat(200));
    expect(message(() => textArgument('search', 'k'.repeat(201), 200))).toBe('search: must be at most 200 characters, got 201');
    expect(message(() => textArgument('search', 'k'.repeat(10_000), 200))).toBe('search: must be at most 200 characters, got 10,000');
  });
});

describe('decodeCursor refuses positions the columns cannot hold', () => {
  it('round-trips the positions of real pages, at the edges of int4', () => {
    for (const position of [
      { rank: 1, id: 'bitcoin' },
      { rank: null, id: 'ousg' },
      { rank: 2_147_483_647, id: 'a'.repeat(200) },
      { rank: -2_147_483_648, id: '1move token' },
    ]) {
      expect(decodeCursor(encodeCursor(position))).toEqual(position);
    }
  });

  it.each([
    ['a rank above int4', [2_147_483_648, 'bitcoin']],
    ['a rank below int4', [-2_147_483_649, 'bitcoin']],
    ['a huge rank', [1e300, 'bitcoin']],
    ['a fractional rank', [1.5, 'bitcoin']],
    ['a NUL in the id', [1, 'bit\u0000coin']],
    ['a lone surrogate in the id', [1, '\ud800']],
    ['an id over 200 characters', [1, 'a'.repeat(201)]],
    ['a numeric id', [1, 2]],
  ])('%s', (_name, value) => {
    expect(message(() => decodeCursor(cursorOf(value)))).toBe(MALFORMED);
  });
});

describe('our messages quote client values short', () => {
  const huge = 'Did you mean '.repeat(40_000);

  it('currency', () => {
    expect(message(() => quoteCurrency(huge, ['usd', 'eur']))).toBe(
      `currency: unknown currency "${huge.slice(0, 64)}…" (520,000 characters); allowed: usd, eur`,
    );
    expect(message(() => quoteCurrency('gbp', ['usd', 'eur']))).toBe('currency: unknown currency "gbp"; allowed: usd, eur');
  });

  it('DateTime', () => {
    expect(message(() => parseDateTime('from', `2026-${'9'.repeat(500_000)}`))).toBe(
      `from: must be an ISO-8601 date-time with an offset, like 2026-11-26T09:25:00Z; got "2026-${'9'.repeat(59)}…" (500,005 characters)`,
    );
  });
});
