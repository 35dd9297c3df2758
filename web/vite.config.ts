import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// `npm run dev`: the browser still talks to one origin; Vite forwards the API paths to the
// gateway (KAM_GATEWAY_URL, default the `make run` one).
const gateway = process.env.KAM_GATEWAY_URL ?? "http://127.0.0.1:8000";

export default defineConfig({
  plugins: [react()],
  server: { proxy: { "/v1": gateway, "/.well-known": gateway } },
  build: { outDir: "dist", sourcemap: false, chunkSizeWarningLimit: 400 },
});
