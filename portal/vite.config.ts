import { defineConfig } from "vite";

// Static files for /portal/: hashed assets under /portal/assets/, nothing fetched from another origin.
export default defineConfig({
  base: "/portal/",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    assetsInlineLimit: 0,
  },
  server: {
    proxy: { "/v1": process.env.TOLLGATE_API ?? "http://127.0.0.1:3000" },
  },
});
