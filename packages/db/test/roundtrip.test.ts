import { createTestDatabase, type TestDatabase } from '@cryptoagg/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase('roundtrip');
});
afterAll(() => t.destroy());

// Why double precision is enough: every JSON number the upstream sends is an IEEE double once
// parsed, and PostgreSQL's float8 text output is the shortest string that reads back to the same
// double, so what goes in comes out bit for bit. These are the awkward shapes from real responses.
const VALUES = [
  0.00001234,
  -6.0e-5,
  96114.08481738689,
  1903746811536,
  -144.95468809806334,
  19822040.0,
  0.1 + 0.2,
  1.7976931348623157e308,
  5e-324,
  123456789012345680000,
  0.17772792588377742,
  1495658356.9526057,
];

it('stores and reads back every upstream number unchanged', async () => {
  await t.db.raw('create temporary table numbers (position int, value double precision)');
  await t.db.raw('insert into numbers select * from unnest(?::int[], ?::float8[])', [VALUES.map((_, i) => i), VALUES]);
  const { rows } = await t.db.raw<{ rows: { value: number }[] }>('select value from numbers order by position');
  const back = rows.map((r) => r.value);
  expect(back).toEqual(VALUES);
  expect(back.map((v) => JSON.stringify(v))).toEqual(VALUES.map((v) => JSON.stringify(v)));
});
