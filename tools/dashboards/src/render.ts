import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '@cryptoagg/core';
import { buildDashboard } from './dashboard.js';

export const DASHBOARD_PATH = path.join(REPO_ROOT, 'gitops/components/alerts-and-dashboard/dashboards/crypto-aggregator.json');

export const renderDashboard = (): string => `${JSON.stringify(buildDashboard(), null, 2)}\n`;

// `npm run dashboards`: writes the dashboard JSON that kustomize ships as a ConfigMap.
if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  writeFileSync(DASHBOARD_PATH, renderDashboard());
  process.stdout.write(`wrote ${DASHBOARD_PATH}\n`);
}
