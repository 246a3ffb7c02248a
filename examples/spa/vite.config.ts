import { defineConfig } from 'vite';

// Port 5173 is Sésame's default APP_URL, so the links in its emails open this app.
export default defineConfig({
  server: { port: 5173, strictPort: true },
  build: { target: 'es2022' },
});
