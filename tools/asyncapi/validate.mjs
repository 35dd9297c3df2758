// Validates an AsyncAPI document with the official parser; exit 1 on any error-level diagnostic.
// Usage: node validate.mjs <document.json>
import { Parser } from '@asyncapi/parser';
import { readFileSync } from 'node:fs';

const parser = new Parser();
const { document, diagnostics } = await parser.parse(readFileSync(process.argv[2], 'utf8'));
const errors = diagnostics.filter((d) => d.severity === 0);
for (const d of errors) console.log(`error ${d.code} at ${d.path.join('/')}: ${d.message}`);
console.log(`${errors.length} errors, ${diagnostics.length - errors.length} warnings/hints`);
process.exit(document && errors.length === 0 ? 0 : 1);
