/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** Sésame's URL, fixed at build time (`VITE_SESAME_URL=https://auth.example.com npm run build`). */
  readonly VITE_SESAME_URL?: string;
}
