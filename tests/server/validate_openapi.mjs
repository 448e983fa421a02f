// Validates an OpenAPI document with @seriousme/openapi-schema-validator (the official
// OpenAPI JSON Schemas checked by Ajv) and resolves every $ref in it.
// Usage: node validate_openapi.mjs NODE_MODULES_DIR DOCUMENT.json
import { pathToFileURL } from 'node:url';
import { readFileSync } from 'node:fs';

const [modules, file] = process.argv.slice(2);
const { Validator } = await import(
  pathToFileURL(`${modules}/@seriousme/openapi-schema-validator/index.js`).href);
const validator = new Validator();
const result = await validator.validate(JSON.parse(readFileSync(file, 'utf8')));
if (!result.valid) {
  console.error(JSON.stringify(result.errors, null, 2));
  process.exit(1);
}
validator.resolveRefs();  // throws on a $ref that points nowhere
console.log(`valid OpenAPI ${validator.version}`);
