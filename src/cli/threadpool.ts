/**
 * Imported first by the CLI: libuv's threadpool (which runs our native decompositions and file
 * reads) has 4 threads unless UV_THREADPOOL_SIZE is set before its first use, which would cap the
 * layers in flight at 3 on bigger machines. A value the user set is kept. Library users set it in
 * their own environment (docs/performance.md).
 */
import { availableParallelism } from 'node:os';

if (!process.env.UV_THREADPOOL_SIZE) process.env.UV_THREADPOOL_SIZE = String(Math.min(1024, Math.max(4, availableParallelism() + 2)));
