// ESM resolve hook of missing-packages-register.mjs: the listed packages fail to resolve.
let missing = [];

export function initialize(data) {
  missing = data;
}

export async function resolve(specifier, context, next) {
  if (missing.some((p) => specifier === p || specifier.startsWith(`${p}/`))) {
    const e = new Error(`Cannot find package '${specifier}' imported from ${context.parentURL}`);
    e.code = 'ERR_MODULE_NOT_FOUND';
    throw e;
  }
  return next(specifier, context);
}
