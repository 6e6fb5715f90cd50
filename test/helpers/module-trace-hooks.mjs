// Module resolve hook for tests: appends every resolved ESM URL to the file named by
// WW_MODULE_TRACE (registered by module-trace-register.mjs via `node --import`).
import { appendFileSync } from 'node:fs';

export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  if (process.env.WW_MODULE_TRACE) appendFileSync(process.env.WW_MODULE_TRACE, `${r.url}\n`);
  return r;
}
