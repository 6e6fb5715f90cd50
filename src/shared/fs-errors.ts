/**
 * File-system failures said as a person would read them: what went wrong with the path and what
 * to do, instead of a raw errno (`EACCES`) or a misleading "no such file" for a symbolic link loop.
 */
import { WeightWatcherError, type ErrorCode } from './errors.js';

/** errno → [error code, what it means for the user]. */
const FS_ERRORS: Readonly<Record<string, readonly [ErrorCode, string]>> = {
  ENOENT: ['E_NOT_FOUND', 'no such file or folder'],
  ENOTDIR: ['E_NOT_FOUND', 'no such file or folder (a part of the path is a file, not a folder)'],
  ELOOP: [
    'E_NOT_FOUND',
    'symbolic link loop: a link on this path points back to itself, so it leads nowhere (check the links with `ls -l`)',
  ],
  EACCES: ['E_IO', 'permission denied: this user may not read it (check its permissions, e.g. `ls -l`; `chmod a+r` gives read access)'],
  EPERM: ['E_IO', 'operation not permitted: this user may not read it (check its permissions and ownership)'],
  EISDIR: ['E_IO', 'is a folder, where a file was expected'],
  EMFILE: ['E_IO', 'too many open files in this process (raise the limit with `ulimit -n`)'],
  ENFILE: ['E_IO', 'too many open files on this system'],
  EIO: ['E_IO', 'input/output error from the device (a failing disk or a lost network share)'],
  ENAMETOOLONG: ['E_NOT_FOUND', 'the path is too long'],
};

/** The errno of a Node file-system error, if any. */
export function errnoOf(e: unknown): string | undefined {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** `path: <what happened>` as a WeightWatcherError (E_NOT_FOUND or E_IO), with the original as cause. */
export function fsError(path: string, e: unknown): WeightWatcherError {
  const errno = errnoOf(e);
  const known = errno === undefined ? undefined : FS_ERRORS[errno];
  const [code, text] = known ?? ['E_IO', `cannot open (${errno ?? (e instanceof Error ? e.message : String(e))})`];
  return new WeightWatcherError(code, `${path}: ${text}`, { file: path, cause: e });
}
