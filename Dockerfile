# One image for every Fleetwright process: controller, gateway, browser agent
# and test runner (`fleetwright <command>`).
#
# BASE_IMAGE brings the browsers and Node: Playwright's published image at the
# Playwright version package.json pins (test/unit/image.test.ts keeps the two
# equal: a client of another minor cannot use its browsers), or, for the local
# node, the Debian stand-in that hack/ builds
# (hack/images/browser-base.Containerfile). Pin a digest for reproducible
# builds: --build-arg BASE_IMAGE=mcr.microsoft.com/playwright:v1.65.1-noble@sha256:...
ARG BASE_IMAGE=mcr.microsoft.com/playwright:v1.65.1-noble

# Production dependencies in a stage of their own, so that a change to src/
# rebuilds only dist/: this layer is cached for as long as the lockfile and
# package.json stay the same. No install scripts: the node devDependency would
# fetch a Node the base already has. --engine-strict: a base whose Node is not
# the one package.json's engines asks for (24 LTS) fails here, not at run time.
# Behind a TLS-intercepting proxy, pass its CA as the build secret npm-ca
# (hack/ does); it is mounted for these steps only and stays out of the image.
# Only what runs ships: no type declarations, source maps or docs (about 40 MB,
# most of it @kubernetes/client-node's).
FROM ${BASE_IMAGE} AS dependencies
WORKDIR /build
COPY package.json package-lock.json ./
RUN --mount=type=secret,id=npm-ca \
    if [ -s /run/secrets/npm-ca ]; then export NPM_CONFIG_CAFILE=/run/secrets/npm-ca; fi \
 && npm ci --omit=dev --ignore-scripts --engine-strict --no-audit --no-fund \
 && find node_modules -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' \
      -o -iname '*.md' -o -iname 'CHANGELOG*' \) -delete

FROM ${BASE_IMAGE} AS build
WORKDIR /build
COPY package.json package-lock.json ./
RUN --mount=type=secret,id=npm-ca \
    if [ -s /run/secrets/npm-ca ]; then export NPM_CONFIG_CAFILE=/run/secrets/npm-ca; fi \
 && npm ci --ignore-scripts --engine-strict --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN node node_modules/typescript/bin/tsc -p tsconfig.build.json \
 && find dist -type f \( -name '*.d.ts' -o -name '*.map' \) -delete

FROM ${BASE_IMAGE}
WORKDIR /app
COPY --from=dependencies /build/package.json ./
COPY --from=dependencies /build/node_modules ./node_modules
COPY --from=build /build/dist ./dist
RUN mkdir -p /home/fleetwright && chown 10001:10001 /home/fleetwright
ENV HOME=/home/fleetwright NODE_ENV=production
USER 10001:10001
ENTRYPOINT ["node", "/app/dist/main.js"]
