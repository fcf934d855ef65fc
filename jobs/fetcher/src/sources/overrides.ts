import type { ExchangeSourceName } from '@cryptoagg/db';

/**
 * Known symbol collisions where "the coin with that symbol and the best market-cap rank" is the
 * wrong coin: an exchange's base asset (normalised, upper case) to the CoinGecko id it really is.
 * `*` applies to every exchange; an exchange's own entry wins over it. A target that is not among
 * the coins we list maps nothing (the pair is left out), never to another coin.
 *
 * Kraken kept the ticker LUNA for Terra Classic when Terra relaunched, and lists the new chain as
 * LUNA2; CoinGecko calls the old chain `terra-luna` (symbol LUNC) and the new one `terra-luna-2`
 * (symbol LUNA), so by symbol Kraken's LUNA would land on the new chain. Binance renamed the old
 * one LUNC, which the symbol rule maps right.
 */
export const SYMBOL_OVERRIDES: Partial<Record<ExchangeSourceName | '*', Readonly<Record<string, string>>>> = {
  kraken: { LUNA: 'terra-luna', LUNA2: 'terra-luna-2' },
};
