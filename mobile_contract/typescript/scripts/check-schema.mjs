// Fails when src/schema.d.ts is not what `npm run generate` would write from ../openapi.json
// now: it generates into a temporary directory and compares. Keep the arguments in step with
// the `generate` script in package.json.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const cli = join(root, "node_modules", "openapi-typescript", "bin", "cli.js");

// A checkout with CRLF line endings (Windows) holds the same types.
const read = (path) => readFileSync(path, "utf8").replaceAll("\r\n", "\n");

function committed() {
  try {
    return read(join(root, "src", "schema.d.ts"));
  } catch {
    return null;
  }
}

function generated() {
  const dir = mkdtempSync(join(tmpdir(), "wujiang-schema-"));
  try {
    const out = join(dir, "schema.d.ts");
    execFileSync(process.execPath, [cli, "../openapi.json", "--output", out], {
      cwd: root,
      stdio: ["ignore", "ignore", "inherit"],
    });
    return read(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const current = committed();
if (current === generated()) {
  console.log("src/schema.d.ts matches ../openapi.json");
} else {
  const why = current === null ? "is missing" : "differs from what ../openapi.json generates";
  console.error(
    `src/schema.d.ts ${why}: run \`make contract\` to regenerate` +
      " (or `make contract-ts-generate` for these types alone)",
  );
  process.exitCode = 1;
}
