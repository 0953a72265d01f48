// The web UI: a React app built by Vite into web/dist, served by the API's own process (see
// src/modules/web). Same origin as the API, so the dev server proxies the API paths to it.
import { fileURLToPath } from 'node:url'
import react from '@vitejs/plugin-react'
import { defineConfig } from 'vite'

const api = process.env.PLANGATE_DEV_API ?? 'http://127.0.0.1:8000'

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  plugins: [react()],
  resolve: {
    // The SDK's TypeScript sources, in its browser build (no webhook verification: that is for servers).
    conditions: ['source', 'browser', 'module', 'import', 'default'],
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // No inline script: the page runs under `script-src 'self'`.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: true,
  },
  server: {
    proxy: Object.fromEntries(['/v1', '/health', '/ready', '/docs'].map((path) => [path, api])),
  },
})
