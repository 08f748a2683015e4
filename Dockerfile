# The workers' image: `npm run start-workers` against TEMPORAL_ADDRESS and DATABASE_URL.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
# allowScripts in package.json approves the install scripts the Temporal SDK needs
RUN npm ci --omit=dev --no-audit --no-fund
COPY common ./common
COPY workflows ./workflows
COPY activities ./activities
COPY workers ./workers
COPY sql ./sql
COPY config ./config
COPY tsconfig.json ./
USER node
CMD ["npm", "run", "start-workers"]
