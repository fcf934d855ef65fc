export { ENTRY_POINTS, FETCHER_MAIN, GATEWAY_MAIN, serviceCommand } from './entry-points.js';
