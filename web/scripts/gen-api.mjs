// Generates the typed API clients' types from the services' OpenAPI documents, so a contract
// change breaks `npm run build` (tsc) instead of the user. The documents come straight from the
// services' app objects (`python -m kam_shared.cli openapi`, no server needed); everything written
// here lives in src/api/generated/, which is git-ignored.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const web = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(web, "src", "api", "generated");
const python = process.env.KAM_PYTHON ?? resolve(web, "..", ".venv", "bin", "python");

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
execFileSync(python, ["-m", "kam_shared.cli", "openapi", "--out", out], { stdio: "inherit", cwd: resolve(web, "..") });
const bin = join(web, "node_modules", ".bin", "openapi-typescript");
for (const file of readdirSync(out).filter((f) => f.endsWith(".json"))) {
  execFileSync(bin, [join(out, file), "-o", join(out, file.replace(/\.json$/, ".ts"))], { stdio: "inherit" });
  // The request schemas alone, for the forms' checks before sending (lib/schema.ts).
  const { components } = JSON.parse(readFileSync(join(out, file), "utf-8"));
  writeFileSync(join(out, file.replace(/\.json$/, ".schemas.json")), JSON.stringify(components?.schemas ?? {}));
}
