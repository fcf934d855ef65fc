# syntax=docker/dockerfile:1.7
# One multi-stage build, one target per service image:
#   docker build --target gateway -t ghcr.io/<owner>/<repo>/gateway:<sha> .
# (targets: gateway, coins, prices, fetcher, migrate). Compiled JavaScript
# bundles (npm run build) on node:24-slim with production dependencies only
# (build tools such as esbuild, spectaql and graphql-inspector are dev
# dependencies and stay out), run as a non-root user; nothing is written
# outside /tmp, so the root file system can be read-only.
#
# The base image is pinned by digest by .github/workflows/pin-images.yml
# (never by hand: a digest is read from the registry, not typed).

FROM node:24.21.0-slim AS base
WORKDIR /app

# The manifests alone, so that `npm ci` (the slow step) is cached until a
# package.json or the lockfile changes, not rebuilt on every source edit.
# Every workspace's package.json is listed (test/pipeline checks it).
FROM base AS manifests
COPY package.json package-lock.json ./
COPY gateway/package.json gateway/
COPY jobs/fetcher/package.json jobs/fetcher/
COPY packages/cache/package.json packages/cache/
COPY packages/core/package.json packages/core/
COPY packages/db/package.json packages/db/
COPY tools/docs/package.json tools/docs/
COPY tools/fake-upstream/package.json tools/fake-upstream/
COPY packages/graphql/package.json packages/graphql/
COPY packages/http/package.json packages/http/
COPY packages/metrics/package.json packages/metrics/
COPY tools/dashboards/package.json tools/dashboards/
COPY tools/stack/package.json tools/stack/
COPY tools/testkit/package.json tools/testkit/
COPY subgraphs/coins/package.json subgraphs/coins/
COPY subgraphs/prices/package.json subgraphs/prices/

FROM manifests AS build
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

# What the bundles import at run time: production dependencies only. No
# install script runs (none of them needs one).
FROM manifests AS production-dependencies
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM base AS runtime
ENV NODE_ENV=production
COPY package.json ./package.json
COPY --from=production-dependencies /app/node_modules ./node_modules
# Read at run time: the SDL, the subgraph manifest (schema/subgraphs.yaml: the
# gateway's subgraph URL variables, each subgraph's port variable) and the
# contract operations (metric labels) in schema/, and the supergraph.
COPY schema ./schema
COPY gateway/supergraph.graphql ./gateway/supergraph.graphql
COPY --from=build /app/dist ./dist
USER 10001:10001

# The services' V8 heap bounds: tools/stack/src/entry-points.ts says why (test/build.test.ts keeps them equal).
FROM runtime AS gateway
EXPOSE 4000 9464
CMD ["node", "--max-old-space-size=152", "--max-semi-space-size=8", "--enable-source-maps", "dist/gateway.js"]

FROM runtime AS coins
EXPOSE 4001 9464
CMD ["node", "--max-old-space-size=112", "--max-semi-space-size=8", "--enable-source-maps", "dist/coins.js"]

FROM runtime AS prices
EXPOSE 4002 9464
CMD ["node", "--max-old-space-size=112", "--max-semi-space-size=8", "--enable-source-maps", "dist/prices.js"]

FROM runtime AS fetcher
CMD ["node", "--enable-source-maps", "dist/fetcher.js"]

FROM runtime AS migrate
CMD ["node", "--enable-source-maps", "dist/migrate.js"]
