/**
 * Streaming without a local copy (issue 19 item 4): a safetensors model read with HTTP range
 * requests, the header first and then each tensor when the engine asks for it. Nothing is written
 * to disk. The engine already reads the next layers while the current ones decompose (a bounded
 * read-ahead: engine/thread-policy.ts), so ranges are fetched concurrently with the SVDs and peak
 * memory is that read-ahead, not the model. Small reads (the 8-byte length, header windows) are
 * served from one 256 KiB block so a header costs one or two requests.
 *
 * Each range is one GET of receive.ts over a kept-alive connection, its body read from the socket
 * straight into the tensor's buffer: `fetch` spent 2.6 CPU seconds per GB here, on the cores the
 * decompositions use (docs/performance.md, "Models by name").
 *
 * Transient failures are retried with backoff (http.ts, and here a body cut mid-read); a range
 * answer of the wrong length is an error (http.ts checks Content-Range, this module the body).
 */
import { WeightWatcherError, errorMessage } from '../shared/errors.js';
import { RandomAccessFile, type PositionedSource } from '../formats/file.js';
import { SafetensorsFile, SafetensorsStore } from '../formats/safetensors.js';
import type { TensorStore } from '../formats/types.js';
import { backoffMs, hubFetch, isTransientNetworkError, type DownloadAnswer, type HubFetch, type RetryPolicy } from './http.js';
import type { ByteTarget } from './receive.js';

const BLOCK = 256 << 10;
const oneByte = (): ByteTarget => {
  const b = new Uint8Array(1);
  return { space: () => b, commit: () => {}, ready: async () => {} };
};
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Read `url` by ranges. */
export class HttpRangeSource implements PositionedSource {
  private block: { start: number; bytes: Uint8Array } | undefined;
  /** Bytes received (for tests and the run info). */
  received = 0;

  private constructor(
    readonly url: string,
    readonly size: number,
    private readonly f: HubFetch,
    private readonly headers: Record<string, string>,
    private readonly retry: RetryPolicy,
  ) {}

  /** Probe the size with `Range: bytes=0-0` (the answer's Content-Range total). */
  static async open(url: string, f: HubFetch, headers: Record<string, string> = {}, retry: RetryPolicy = {}): Promise<HttpRangeSource> {
    let res: DownloadAnswer;
    try {
      res = await f.download(url, { headers: { ...headers, Range: 'bytes=0-0' }, keepAlive: true });
    } catch (e) {
      if (e instanceof WeightWatcherError) throw e;
      throw new WeightWatcherError('E_IO', `${url}: cannot connect (${errorMessage((e as { cause?: unknown }).cause ?? e)})`, {
        file: url,
        cause: e,
      });
    }
    // The one byte is read (not dropped with the connection), so the connection serves the reads that follow.
    if (res.status === 206) await res.body.receive(oneByte(), 1).catch(() => res.body.cancel());
    else await res.body.cancel();
    if (res.status === 401 || res.status === 403)
      throw new WeightWatcherError(
        'E_NOT_FOUND',
        `${url}: access denied (HTTP ${res.status}); set HF_TOKEN (or --token) for gated or private files`,
        {
          file: url,
        },
      );
    if (res.status === 404) throw new WeightWatcherError('E_NOT_FOUND', `${url}: not found (HTTP 404)`, { file: url });
    const total = /\/(\d+)$/.exec(res.headers.get('content-range') ?? '');
    if (res.status !== 206 || !total)
      throw new WeightWatcherError(
        'E_UNSUPPORTED',
        `${url}: the server does not answer range requests (HTTP ${res.status}), which streaming needs; download the file instead`,
        { file: url },
      );
    return new HttpRangeSource(url, Number(total[1]), f, headers, retry);
  }

  /** Bytes [offset, offset + length), read from the socket straight into the array returned (receive.ts). */
  private async fetchRange(offset: number, length: number): Promise<Uint8Array> {
    const attempts = this.retry.attempts ?? 5;
    const range = `bytes=${offset}-${offset + length - 1}`;
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await this.f.download(this.url, { headers: { ...this.headers, Range: range }, keepAlive: true });
        if (res.status !== 206) {
          await res.body.cancel();
          throw new WeightWatcherError('E_IO', `${this.url}: HTTP ${res.status} for bytes ${offset}-${offset + length - 1}`, {
            file: this.url,
          });
        }
        const body = new Uint8Array(length);
        let filled = 0;
        await res.body.receive({ space: () => body.subarray(filled), commit: (n) => void (filled += n), ready: async () => {} }, length);
        if (filled !== length)
          throw new WeightWatcherError('E_IO', `${this.url}: wrong range answer: ${filled} bytes for ${length} at ${offset}`, {
            file: this.url,
          });
        this.received += filled;
        return body;
      } catch (e) {
        if (attempt + 1 >= attempts || !isTransientNetworkError(e)) {
          if (e instanceof WeightWatcherError) throw e;
          throw new WeightWatcherError('E_IO', `${this.url}: reading bytes ${offset}-${offset + length - 1} failed (${errorMessage(e)})`, {
            file: this.url,
            cause: e,
          });
        }
        await sleep(backoffMs(attempt, this.retry));
      }
    }
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    if (length === 0) return new Uint8Array(0);
    const b = this.block;
    if (b && offset >= b.start && offset + length <= b.start + b.bytes.length)
      return b.bytes.slice(offset - b.start, offset - b.start + length);
    if (length >= BLOCK) return this.fetchRange(offset, length);
    const bytes = await this.fetchRange(offset, Math.min(BLOCK, this.size - offset));
    this.block = { start: offset, bytes };
    return bytes.slice(0, length);
  }

  async close(): Promise<void> {
    this.block = undefined;
  }
}

/** Open safetensors files at URLs as one store (shards in the given order; `order` from an index). */
export async function openStreamedSafetensors(
  urls: readonly { url: string; name: string }[],
  f: HubFetch,
  headers: Record<string, string>,
  retry: RetryPolicy,
  order?: readonly string[],
): Promise<TensorStore> {
  const files: SafetensorsFile[] = [];
  try {
    for (const u of urls) {
      const source = await HttpRangeSource.open(u.url, f, headers, retry);
      files.push(await SafetensorsFile.fromFile(RandomAccessFile.fromSource(u.name, source)));
    }
  } catch (e) {
    await Promise.all(files.map((x) => x.close()));
    throw e;
  }
  return new SafetensorsStore(files, order);
}

export { hubFetch };
