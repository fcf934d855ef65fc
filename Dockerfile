# syntax=docker/dockerfile:1.7
# One multi-stage build, one target per service image:
#   docker build --target gateway -t ghcr.io/<owner>/<repo>/gateway:<sha> .
# (targets: gateway, coins, prices, fetcher, migrate). Compiled JavaScript
# bundles (npm run build) on node:24-slim with production dependencies only,
# run as a non-root user; nothing is written outside /tmp, so the root file
# system can be read-only.

FROM node:24.21.0-slim AS build
WORKDIR /app
COPY . .
RUN npm ci --no-audit --no-fund \
 && npm run build \
 && npm prune --omit=dev --no-audit --no-fund

FROM node:24.21.0-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/schema ./schema
COPY --from=build /app/gateway/supergraph.graphql ./gateway/supergraph.graphql
COPY --from=build /app/dist ./dist
USER 10001:10001

FROM runtime AS gateway
EXPOSE 4000
CMD ["node", "--enable-source-maps", "dist/gateway.js"]

FROM runtime AS coins
EXPOSE 4001
CMD ["node", "--enable-source-maps", "dist/coins.js"]

FROM runtime AS prices
EXPOSE 4002
CMD ["node", "--enable-source-maps", "dist/prices.js"]

FROM runtime AS fetcher
CMD ["node", "--enable-source-maps", "dist/fetcher.js"]

FROM runtime AS migrate
CMD ["node", "--enable-source-maps", "dist/migrate.js"]
