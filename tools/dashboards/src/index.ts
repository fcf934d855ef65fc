export { buildDashboard, dashboardExpressions } from './dashboard.js';
export { DASHBOARD_PATH, renderDashboard } from './render.js';
