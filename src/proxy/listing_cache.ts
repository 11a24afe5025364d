/**
 * A short-lived cache for what folders cost S3 (`LISTING_CACHE_SECONDS`, per route; off by
 * default): generated listing pages, the fact that a folder has no `index.html`, and the slash
 * check of a browser's download (object, folder or missing). Every listing page and browser
 * download otherwise costs one or two S3 requests.
 *
 * Keys are arrays of strings (route, bucket, what, the canonical decoded key or prefix, page...),
 * built from the decided request, never from the client's spelling of its path. Values are
 * strings. Bounded in entries and in characters (oldest first out); entries expire `ttlMs` after
 * they were stored; concurrent misses of a key share one load, and a load that throws is shared
 * by those waiting but not kept.
 *
 * @module
 */

/** The cache of one route. */
export interface ListingCache {
  /** The fresh value of `key`, else the value of `load()` (one load for concurrent misses). */
  get(key: readonly string[], load: () => Promise<string>): Promise<string>;
  /** The fresh value of `key`, or undefined. */
  peek(key: readonly string[]): string | undefined;
  /** Stores a value (a value larger than the whole bound is not kept). */
  set(key: readonly string[], value: string): void;
  /** Entries held now, expired ones included until looked up or pushed out. */
  readonly size: number;
  /** Characters held now (keys and values). */
  readonly chars: number;
}

/** Bounds and clock of a {@linkcode ListingCache}. */
export interface ListingCacheOptions {
  readonly ttlMs: number;
  /** Default 1000. */
  readonly maxEntries?: number;
  /** Keys and values, in UTF-16 code units; default 8 Mi (16 MiB). */
  readonly maxChars?: number;
  /** Epoch milliseconds; default `Date.now`. */
  readonly now?: () => number;
}

/**
 * Creates a listing cache.
 *
 * @example
 * ```ts
 * const cache = createListingCache({ ttlMs: 10_000 });
 * const page = await cache.get(["/", "bucket", "page", "docs/", ""], () => renderDocs());
 * ```
 */
export function createListingCache(options: ListingCacheOptions): ListingCache {
  const { ttlMs } = options;
  const maxEntries = options.maxEntries ?? 1000;
  const maxChars = options.maxChars ?? 8 * 1024 * 1024;
  const now = options.now ?? Date.now;
  const entries = new Map<string, { value: string; expires: number }>();
  const loading = new Map<string, Promise<string>>();
  let chars = 0;
  const idOf = (key: readonly string[]) => JSON.stringify(key);
  const drop = (id: string, value: string) => {
    entries.delete(id);
    chars -= id.length + value.length;
  };
  const lookup = (id: string) => {
    const entry = entries.get(id);
    if (entry === undefined) return undefined;
    if (entry.expires <= now()) {
      drop(id, entry.value);
      return undefined;
    }
    return entry.value;
  };
  const store = (id: string, value: string) => {
    const old = entries.get(id);
    if (old !== undefined) drop(id, old.value);
    const size = id.length + value.length;
    if (size > maxChars || maxEntries < 1) return;
    entries.set(id, { value, expires: now() + ttlMs });
    chars += size;
    for (const [oldest, entry] of entries) {
      if (entries.size <= maxEntries && chars <= maxChars) break;
      drop(oldest, entry.value);
    }
  };
  return {
    get(key, load) {
      const id = idOf(key);
      const hit = lookup(id);
      if (hit !== undefined) return Promise.resolve(hit);
      let pending = loading.get(id);
      if (pending === undefined) {
        // load runs on a later microtask, so `loading` holds the promise before it settles.
        pending = Promise.resolve().then(load).then((value) => {
          loading.delete(id);
          store(id, value);
          return value;
        }, (e) => {
          loading.delete(id);
          throw e;
        });
        loading.set(id, pending);
      }
      return pending;
    },
    peek: (key) => lookup(idOf(key)),
    set: (key, value) => store(idOf(key), value),
    get size() {
      return entries.size;
    },
    get chars() {
      return chars;
    },
  };
}
