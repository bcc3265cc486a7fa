import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

const root = fileURLToPath(new URL(".", import.meta.url));

/** The web console: src/web -> dist/web, served by the API server at `/`. `vite --config src/web/vite.config.ts` proxies the API to ZUMBIDO_URL for development. */
export default defineConfig({
  root,
  base: "/",
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL("../../dist/web", import.meta.url)),
    emptyOutDir: true,
    chunkSizeWarningLimit: 900,
    reportCompressedSize: false,
  },
  server: {
    proxy: { "/v1": { target: process.env.ZUMBIDO_URL ?? "http://127.0.0.1:8080", changeOrigin: true } },
  },
});
