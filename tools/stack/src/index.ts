export { ENTRY_POINTS, FETCHER_MAIN, GATEWAY_MAIN } from './entry-points.js';
