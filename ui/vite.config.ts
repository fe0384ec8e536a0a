import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// The Perch server serves `dist/` at `/` with an SPA fallback. During
// `npm run dev`, API calls are proxied to a running `perch serve`
// (PERCH_URL, default http://127.0.0.1:4860).
const target = process.env.PERCH_URL ?? 'http://127.0.0.1:4860';

export default defineConfig({
  base: './',
  plugins: [svelte()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 1024,
  },
  server: {
    proxy: {
      '/api': { target, changeOrigin: false, ws: false },
    },
  },
  test: {
    include: ['tests/**/*.test.ts'],
    environment: 'node',
  },
});
