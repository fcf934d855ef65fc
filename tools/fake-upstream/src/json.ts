// CoinGecko is a Ruby service, so its JSON numbers follow Ruby's Float#to_s: tiny values in
// exponent form with a two-digit exponent and a mandatory fraction ("-6.0e-05"), and supply
// floats keep a trailing ".0". JSON.stringify does neither, so consumers tested only against
// it would never meet those spellings.
const FLOAT_KEYS = new Set(['circulating_supply', 'total_supply', 'max_supply']);

function formatNumber(n: number, isFloat: boolean): string {
  if (!Number.isFinite(n)) return 'null';
  const abs = Math.abs(n);
  if (abs !== 0 && abs < 1e-4) {
    // toExponential() without digits gives the shortest text that round-trips
    const [mantissa = '0', exponent = '0'] = n.toExponential().split('e');
    const exp = Number(exponent);
    const digits = String(Math.abs(exp)).padStart(2, '0');
    return `${mantissa.includes('.') ? mantissa : `${mantissa}.0`}e${exp < 0 ? '-' : '+'}${digits}`;
  }
  const text = JSON.stringify(n);
  return isFloat && Number.isInteger(n) && !text.includes('e') ? `${text}.0` : text;
}

/** JSON text written as is: values JSON.stringify cannot produce, such as `1e999` (which JSON.parse reads as Infinity). */
export class RawJson {
  constructor(readonly text: string) {}
}

export const rawJson = (text: string): RawJson => new RawJson(text);

/** JSON.stringify with Ruby-style number spelling; undefined properties are skipped. */
export function toRubyJson(value: unknown, key = ''): string {
  if (value instanceof RawJson) return value.text;
  if (typeof value === 'number') return formatNumber(value, FLOAT_KEYS.has(key));
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => toRubyJson(v)).join(',')}]`;
  const parts = Object.entries(value)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${JSON.stringify(k)}:${toRubyJson(v, k)}`);
  return `{${parts.join(',')}}`;
}
