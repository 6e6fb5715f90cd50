// `node --import ./module-trace-register.mjs …`: trace module resolution (see module-trace-hooks.mjs).
import { register } from 'node:module';

register('./module-trace-hooks.mjs', import.meta.url);
