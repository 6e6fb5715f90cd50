/**
 * The part of better-sqlite3's API the results database uses, declared here so that the published
 * declarations (dist/sweep/*.d.ts) stand alone: better-sqlite3 ships no types, and a user of
 * `weightwatcher/sweep` must not need @types/better-sqlite3 (a dev dependency here) to compile.
 * better-sqlite3's Database is assignable to this interface (db.ts opens one and returns it as this).
 */
export interface SqliteRunResult {
  changes: number;
  lastInsertRowid: number | bigint;
}

export interface SqliteStatement {
  run(...params: unknown[]): SqliteRunResult;
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
  iterate(...params: unknown[]): IterableIterator<unknown>;
}

/** A function wrapped in a transaction (BEGIN … COMMIT, ROLLBACK when it throws); `immediate` takes the write lock first. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- better-sqlite3's own constraint
type SqliteFunction = (...args: any[]) => unknown;
type ArgumentTypes<F extends SqliteFunction> = F extends (...args: infer A) => unknown ? A : never;

export interface SqliteTransaction<F extends SqliteFunction> {
  (...args: ArgumentTypes<F>): ReturnType<F>;
  immediate(...args: ArgumentTypes<F>): ReturnType<F>;
}

export interface Database {
  prepare(source: string): SqliteStatement;
  exec(source: string): this;
  pragma(source: string, options?: { simple?: boolean }): unknown;
  transaction<F extends SqliteFunction>(fn: F): SqliteTransaction<F>;
  close(): this;
  readonly open: boolean;
  readonly name: string;
}
