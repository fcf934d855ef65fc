import { DateTimeScalar } from '@cryptoagg/graphql';
import type { Resolvers } from '../__generated__/resolvers-types.js';
import { Coin } from './Coin.js';
import { FetchStatus, HistoryPoint, Quote } from './fields.js';
import { Query } from './Query.js';

export const resolvers: Resolvers = { Query, Coin, Quote, HistoryPoint, FetchStatus, DateTime: DateTimeScalar };
