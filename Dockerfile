# The workers' image: `npm run start-workers` against TEMPORAL_ADDRESS and DATABASE_URL.
FROM node:20-bookworm-slim
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
COPY sql ./sql
COPY config ./config
COPY tsconfig.json ./
USER node
CMD ["npm", "run", "start-workers"]
