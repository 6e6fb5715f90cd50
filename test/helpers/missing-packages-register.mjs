// `node --import ./missing-packages-register.mjs …` with WW_MISSING_PACKAGES=vega,better-sqlite3,…:
// those packages (and their subpaths) look not installed, as after `npm install --omit=optional`:
// import() fails as Node fails for a missing package (ERR_MODULE_NOT_FOUND, "Cannot find package"),
// require() and require.resolve() as CommonJS does (MODULE_NOT_FOUND, "Cannot find module").
// Used by test/unit/optional-import.test.ts; worker threads inherit it through execArgv.
import Module, { register } from 'node:module';

const missing = (process.env.WW_MISSING_PACKAGES ?? '').split(',').filter(Boolean);
const isMissing = (request) => missing.some((p) => request === p || request.startsWith(`${p}/`));

register('./missing-packages-hooks.mjs', import.meta.url, { data: missing });

const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (isMissing(request)) {
    const e = new Error(`Cannot find module '${request}'`);
    e.code = 'MODULE_NOT_FOUND';
    throw e;
  }
  return resolveFilename.call(this, request, ...rest);
};
