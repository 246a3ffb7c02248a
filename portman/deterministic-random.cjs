// Preloaded into the Portman process by scripts/generate-postman.ts (node --require).
//
// Portman (through openapi-to-postman and json-schema-faker) fills request bodies, query
// parameters and response examples with Math.random()-based fake values, so two runs on the
// same spec produce different collections. Replacing Math.random with a seeded PRNG makes the
// conversion reproducible. Item ids (uuid v4 from crypto) are stabilised afterwards by the
// generator script.
'use strict';

const seed = Number(process.env.SESAME_PORTMAN_SEED || 20260101) >>> 0;
let state = seed;

// mulberry32: small, fast, good enough for fake example data.
Math.random = function seededRandom() {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
