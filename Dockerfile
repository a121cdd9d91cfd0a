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

FROM ${BASE_IMAGE} AS build
WORKDIR /build
COPY package.json package-lock.json ./
# No install scripts: the node devDependency would fetch a Node the base already has.
# --engine-strict: a base whose Node is not the one package.json's engines asks
# for (24 LTS) fails here, not at run time.
# Behind a TLS-intercepting proxy, pass its CA as the build secret npm-ca
# (hack/ does); it is mounted for this step only and stays out of the image.
RUN --mount=type=secret,id=npm-ca \
    if [ -s /run/secrets/npm-ca ]; then export NPM_CONFIG_CAFILE=/run/secrets/npm-ca; fi \
 && npm ci --ignore-scripts --engine-strict --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# Only what runs ships: production dependencies without their type
# declarations, source maps and docs (about 40 MB, most of it
# @kubernetes/client-node's), and dist/ without its declarations and maps.
RUN node node_modules/typescript/bin/tsc -p tsconfig.build.json \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund \
 && find node_modules dist -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' \) -delete \
 && find node_modules -type f \( -iname '*.md' -o -iname 'CHANGELOG*' \) -delete

# The final stage adds to the base only the app, owned by root: the process
# (user 10001, as the pods run it) can read it and change nothing of it.
FROM ${BASE_IMAGE}
WORKDIR /app
COPY --from=build /build/package.json ./
COPY --from=build /build/node_modules ./node_modules
COPY --from=build /build/dist ./dist
RUN mkdir -p /home/fleetwright && chown 10001:10001 /home/fleetwright
ENV HOME=/home/fleetwright NODE_ENV=production
USER 10001:10001
ENTRYPOINT ["node", "/app/dist/main.js"]
