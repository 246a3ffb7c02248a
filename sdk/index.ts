// The package's entry: the generated operations and types (src/, never edited by hand), the
// generated fetch client, and the hand-written session helper (session/).
export * from './src/index.js';
export { createClient, createConfig, type Auth, type Client, type Config, type RequestOptions, type RequestResult } from './src/client/index.js';
export * from './session/index.js';
