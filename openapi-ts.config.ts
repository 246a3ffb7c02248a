import { defineConfig } from '@hey-api/openapi-ts';

// The TypeScript SDK is generated from the contract's bundle; never edit sdk/src by hand (npm run generate).
export default defineConfig({
  input: './openapi/openapi.yaml',
  output: {
    path: './sdk/src',
    module: { extension: '.js' },
  },
  plugins: ['@hey-api/client-fetch', '@hey-api/typescript', '@hey-api/sdk'],
});
