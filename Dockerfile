# syntax=docker/dockerfile:1
# Build: compile TypeScript to dist/ and keep production dependencies only.
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-fund --no-audit
COPY tsconfig.json tsconfig.build.json ./
COPY operator/src operator/src
RUN npx tsc -p tsconfig.build.json && npm prune --omit=dev

# Run: Node 24 slim, non-root, the operator as entrypoint.
FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=root:root /src/node_modules ./node_modules
COPY --from=build --chown=root:root /src/dist ./dist
COPY --chown=root:root package.json ./
COPY --chown=root:root crds ./crds
USER 65532:65532
EXPOSE 8080 8081
# Same V8 flags as operator/src/app/node-flags.ts (peak RSS; see docs/architecture.md).
ENTRYPOINT ["node", "--max-semi-space-size=2", "--max-old-space-size=192", "--optimize-for-size", "dist/cli/main.js", "operator"]
