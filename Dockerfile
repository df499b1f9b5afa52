# Image of the bus's Node.js services (gateway, projector, query API, alerts).
# The same image runs each one with a different command; see docker-compose.yml.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
USER node
CMD ["npm", "start"]
