# syntax=docker/dockerfile:1
# The meshfl daemon as a container image (docs/DAEMON.md "Containers"; deploy/ has a compose
# example). Multi-arch: node:22-slim exists for linux/amd64 and linux/arm64 (Raspberry Pi 4/5
# on a 64-bit OS, Jetson), and every native dependency ships prebuilt binaries for both
# (deploy/README.md "arm64"), so
#   docker buildx build --platform linux/amd64,linux/arm64 -t meshfl .
# needs no compiler and no emulation beyond running npm.
ARG NODE_IMAGE=node:22-slim

# Production dependencies, exactly as locked. No install scripts are needed: the two in
# the tree (core-js's banner, esbuild's binary check) are denied in package.json anyway.
# --omit=peer leaves out what only peer dependencies pull in, above all react-native (a peer
# of react-native-webrtc, which @libp2p/webrtc lists for React Native apps; Node never loads
# it): 226 packages and 614 MB instead of 802 and 850 MB (measured on linux-x64).
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
COPY tools/node22/package.json tools/node22/
RUN npm ci --omit=dev --omit=peer --ignore-scripts --no-audit --no-fund

# The published JavaScript (dist/, what `npm pack` ships) and the web page the daemon serves.
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json .npmrc ./
COPY tools/node22/package.json tools/node22/
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN npm run build && npm run build:browser

FROM ${NODE_IMAGE}
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/cli/bin/meshfl.js ./cli/bin/meshfl.js
COPY --from=build /src/dist ./dist
# The daemon serves the page from browser/dist next to its compiled code (STATIC_ROOT).
COPY --from=build /src/browser/dist ./dist/browser/dist
COPY deploy/meshfl.yaml /etc/meshfl/meshfl.yaml
COPY deploy/healthcheck.mjs ./deploy/healthcheck.mjs
# The image's own `node` user (uid 1000) owns the data directory: peer key, checkpoints.
RUN mkdir -p /data && chown node:node /data && chmod 0700 /data
USER node
ENV MESHFL_DATA_DIR=/data
VOLUME ["/data"]
# libp2p TCP, libp2p WebSockets, HTTP (/health, /metrics, /status, /task, the page).
EXPOSE 4001 4002 9464
# Healthy = /health answers 200 (ready): started, and a peer connected within
# http.notReadyAfterNoPeersSeconds. Needs MESHFL_HTTP_TOKEN, as the daemon itself does.
HEALTHCHECK --interval=30s --timeout=10s --start-period=120s --retries=3 CMD ["node", "/app/deploy/healthcheck.mjs"]
# SIGTERM (docker stop) makes the daemon write a checkpoint and exit 0 within 10 s.
STOPSIGNAL SIGTERM
CMD ["node", "/app/cli/bin/meshfl.js", "daemon", "--config", "/etc/meshfl/meshfl.yaml"]
