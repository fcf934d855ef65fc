import type { Resolvers } from '../__generated__/resolvers-types.js';
import { Coin } from './Coin.js';
import { Query } from './Query.js';

export const resolvers: Resolvers = { Query, Coin };
