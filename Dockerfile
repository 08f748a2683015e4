# The BigBrotr image: the workers (`npm run start-workers`, the default command), the HTTP API
# (`npm run start-api`) and the one-shot `npm run start-pipeline`, against TEMPORAL_ADDRESS,
# DATABASE_URL and API_DATABASE_URL. Pinned base image: upgrade it on purpose, with the lock file.
FROM node:20.20.2-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
# allowScripts in package.json approves the install scripts the Temporal SDK needs; the compiler
# builds bcrypto's libsecp256k1 binding (the fast event verifier; without it: the wasm one)
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ \
 && npm ci --omit=dev --no-audit --no-fund \
 && apt-get purge -y python3 make g++ && apt-get autoremove -y && rm -rf /var/lib/apt/lists/*
COPY common ./common
COPY workflows ./workflows
COPY activities ./activities
COPY workers ./workers
COPY read ./read
COPY api ./api
COPY sql ./sql
COPY config ./config
COPY tsconfig.json ./
# The workflow bundle is built into the image; start-workers checks it and rebuilds it only if it is
# stale, so .build stays writable by the user the processes run as.
RUN npm run build:workflows && chown -R node:node .build
USER node
# 9464: /metrics (config `metrics`, BIGBROTR__metrics__port); 8080: the API (`npm run start-api`)
EXPOSE 9464 8080
CMD ["npm", "run", "start-workers"]
