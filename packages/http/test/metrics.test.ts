import { readContractOperations } from '@cryptoagg/core';
import { describe, expect, it } from 'vitest';
import { operationLabel, operationNames, outcomeOf } from '../src/index.js';

describe('request metric labels', () => {
  it('keeps the contract operations by name and folds everything else into "other"', () => {
    // What the services pass in: the names in the contract operations document.
    const known = operationNames(readContractOperations());
    expect(known).toEqual(['Markets', 'CoinDetail', 'CoinHistory', 'SearchCoins', 'FetchStatus']);
    expect(operationLabel('Markets', known)).toBe('Markets');
    expect(operationLabel('CoinHistory', known)).toBe('CoinHistory');
    // The gateway's query planner names subgraph fetches <Operation>__<subgraph>__<n>.
    expect(operationLabel('Markets__prices__0', known)).toBe('Markets');
    expect(operationLabel('CoinDetail__coins__1', known)).toBe('CoinDetail');
    expect(operationLabel('MyDashboardQuery', known)).toBe('other');
    expect(operationLabel('Markets_v2', known)).toBe('other');
    expect(operationLabel(null, known)).toBe('other');
    expect(operationLabel(undefined, known)).toBe('other');
  });

  it('tells client errors from server errors', () => {
    expect(outcomeOf([])).toBe('success');
    expect(outcomeOf(['BAD_USER_INPUT'])).toBe('client_error');
    expect(outcomeOf(['GRAPHQL_VALIDATION_FAILED', 'BAD_USER_INPUT'])).toBe('client_error');
    expect(outcomeOf(['INTERNAL_SERVER_ERROR'])).toBe('error');
    expect(outcomeOf(['BAD_USER_INPUT', undefined])).toBe('error');
  });
});
