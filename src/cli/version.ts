/** The package version, for `--version`, `info` and the JSON metadata. */
import { createRequire } from 'node:module';

export const VERSION = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
