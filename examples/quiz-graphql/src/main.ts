import { createQuizApp } from './app.js';

// Configuration from the environment (README of this example).
const sesameUrl = process.env.SESAME_URL ?? 'http://localhost:3000';
const app = createQuizApp({
  sesame: {
    url: sesameUrl,
    issuer: process.env.SESAME_ISSUER ?? sesameUrl,
    audience: process.env.SESAME_AUDIENCE ?? 'sesame',
    live: process.env.SESAME_LIVE === 'false' ? false : { cacheSeconds: Number(process.env.SESAME_LIVE_CACHE_SECONDS ?? 0) },
  },
  production: process.env.NODE_ENV === 'production',
});
const port = Number(process.env.PORT ?? 4000);
app.listen(port, () => console.log(`quiz service on http://localhost:${port}/graphql (Sésame at ${sesameUrl})`));
