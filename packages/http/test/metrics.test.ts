import { describe, expect, it } from 'vitest';
import { operationLabel, outcomeOf } from '../src/index.js';

describe('request metric labels', () => {
  it('keeps the contract operations by name and folds everything else into "other"', () => {
    expect(operationLabel('Markets')).toBe('Markets');
    expect(operationLabel('CoinHistory')).toBe('CoinHistory');
    // The gateway's query planner names subgraph fetches <Operation>__<subgraph>__<n>.
    expect(operationLabel('Markets__prices__0')).toBe('Markets');
    expect(operationLabel('CoinDetail__coins__1')).toBe('CoinDetail');
    expect(operationLabel('MyDashboardQuery')).toBe('other');
    expect(operationLabel('Markets_v2')).toBe('other');
    expect(operationLabel(null)).toBe('other');
    expect(operationLabel(undefined)).toBe('other');
  });

  it('tells client errors from server errors', () => {
    expect(outcomeOf([])).toBe('success');
    expect(outcomeOf(['BAD_USER_INPUT'])).toBe('client_error');
    expect(outcomeOf(['GRAPHQL_VALIDATION_FAILED', 'BAD_USER_INPUT'])).toBe('client_error');
    expect(outcomeOf(['INTERNAL_SERVER_ERROR'])).toBe('error');
    expect(outcomeOf(['BAD_USER_INPUT', undefined])).toBe('error');
  });
});
