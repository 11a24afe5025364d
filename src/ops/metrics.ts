/**
 * Prometheus metrics, without a dependency: counters and histograms kept in maps keyed by their
 * label values, rendered in the text exposition format (version 0.0.4) on a scrape.
 *
 * Every label value comes from a bounded set: route prefixes (from the configuration), decision
 * names (from the code, checked against a pattern), status codes (100-599), upstream outcomes
 * (status classes, `timeout`, `unreachable`), access-control methods (`basic`, `jwt`, `sigv4`,
 * `none`, else `other`). Never a path, a key or a user name: ten thousand distinct paths add no series.
 *
 * The hot path (one {@linkcode Metrics.request} per request) is two map lookups and a bucket
 * search; the text is built only when scraped.
 *
 * @module
 */

/** Upper bounds (seconds) of the duration histograms' buckets. */
export const DURATION_BUCKETS: readonly number[] = [
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
];

/** What an upstream request came to: its status class, or why there is none. */
export type UpstreamOutcome = "2xx" | "3xx" | "4xx" | "5xx" | "timeout" | "unreachable";

/** The upstream side of {@linkcode Metrics}, as `sendUpstream` sees it. */
export interface UpstreamMetrics {
  /** One request sent to S3 (`route` is the route's prefix), and how long until its headers. */
  upstream(route: string, outcome: UpstreamOutcome, seconds: number): void;
}

/** What the handler records. */
export interface Metrics extends UpstreamMetrics {
  /**
   * One answered request: its route's prefix (`null`: under no route), the decision
   * (`redirect`, `proxy`, `reject`, ...), the status, and the time to the response's headers.
   */
  request(route: string | null, decision: string, status: number, seconds: number): void;
  /** Bytes of response bodies sent for a route (`null`: under no route). */
  responseBytes(route: string | null, bytes: number): void;
  /**
   * A request refused by a route's access control (`s3proxy_auth_failures_total`): the route's
   * prefix and the access-control method that refused it (`basic`, `jwt`, `sigv4`; `none`: no
   * credentials were presented).
   */
  authFailure(route: string | null, method: string): void;
  /** The exposition text of everything recorded, then of `extra`. */
  render(extra?: Scrape): string;
}

/** State read at scrape time (credentials, process), rendered after the counters. */
export interface Scrape {
  /** One entry per route. */
  readonly routes?: readonly RouteState[];
  /** One entry per credential provider that refreshes (counter of failed refreshes). */
  readonly refreshFailures?: readonly { readonly source: string; readonly count: number }[];
  readonly build?: {
    readonly version: string;
    readonly runtime: string;
    readonly runtimeVersion: string;
  };
  readonly process?: ProcessState;
}

/** A route's credentials as seen at scrape time. */
export interface RouteState {
  readonly route: string;
  readonly source: string;
  readonly ready: boolean;
  /** Epoch milliseconds at which the credentials in hand stop working, when known. */
  readonly expiration?: number;
  /** Signing keys: the last UTC day (`YYYYMMDD`) that has a key. */
  readonly lastDay?: string;
}

/** What the runtime tells of the process; absent fields are not exposed. */
export interface ProcessState {
  readonly residentBytes?: number;
  readonly heapBytes?: number;
  readonly openFds?: number;
  readonly startTimeSeconds?: number;
}

const DECISION = /^[a-z][a-z-]{0,31}$/;
const AUTH_METHODS = new Set(["basic", "jwt", "sigv4", "none"]);

/** A decision name as a label: anything that is not a short lower-case word is `other`. */
function decisionLabel(decision: string): string {
  return DECISION.test(decision) ? decision : "other";
}

function statusLabel(status: number): string {
  return Number.isInteger(status) && status >= 100 && status <= 599 ? String(status) : "other";
}

function routeLabel(route: string | null): string {
  return route ?? "none";
}

/** A label value, escaped as the exposition format requires. */
function escapeLabel(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => c === "\n" ? "\\n" : "\\" + c);
}

function labels(names: readonly string[], values: readonly string[]): string {
  return names.map((n, i) => `${n}="${escapeLabel(values[i])}"`).join(",");
}

/** A number as Prometheus writes it. */
function num(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (n === Infinity) return "+Inf";
  if (n === -Infinity) return "-Inf";
  return String(n);
}

const SEP = "\u0000";

interface Histogram {
  readonly values: readonly string[];
  /** Per bucket (not cumulative), and one more for above the last bound. */
  readonly counts: number[];
  sum: number;
  count: number;
}

class CounterFamily {
  readonly series = new Map<string, { values: readonly string[]; value: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {}
  add(values: readonly string[], by = 1): void {
    this.get(values).value += by;
  }
  /** The series of these label values (made at 0 when new). */
  get(values: readonly string[]): { values: readonly string[]; value: number } {
    const key = values.join(SEP);
    let s = this.series.get(key);
    if (!s) this.series.set(key, s = { values, value: 0 });
    return s;
  }
  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`);
    for (const s of this.series.values()) {
      out.push(`${this.name}{${labels(this.labelNames, s.values)}} ${num(s.value)}`);
    }
  }
}

function observe(h: Histogram, seconds: number): void {
  let i = 0;
  while (i < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[i]) i++;
  h.counts[i]++;
  h.sum += seconds;
  h.count++;
}

class HistogramFamily {
  readonly series = new Map<string, Histogram>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {}
  observe(values: readonly string[], seconds: number): void {
    observe(this.get(values), seconds);
  }
  /** The series of these label values (made empty when new). */
  get(values: readonly string[]): Histogram {
    const key = values.join(SEP);
    let h = this.series.get(key);
    if (!h) {
      h = { values, counts: new Array(DURATION_BUCKETS.length + 1).fill(0), sum: 0, count: 0 };
      this.series.set(key, h);
    }
    return h;
  }
  render(out: string[]): void {
    const n = this.name;
    out.push(`# HELP ${n} ${this.help}`, `# TYPE ${n} histogram`);
    for (const h of this.series.values()) {
      const l = labels(this.labelNames, h.values);
      let cumulative = 0;
      DURATION_BUCKETS.forEach((le, i) => {
        cumulative += h.counts[i];
        out.push(`${n}_bucket{${l},le="${le}"} ${cumulative}`);
      });
      out.push(`${n}_bucket{${l},le="+Inf"} ${h.count}`);
      out.push(`${n}_sum{${l}} ${num(h.sum)}`, `${n}_count{${l}} ${h.count}`);
    }
  }
}

function gauge(
  out: string[],
  name: string,
  help: string,
  rows: readonly [labels: string, value: number][],
): void {
  if (rows.length === 0) return;
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
  for (const [l, v] of rows) out.push(`${name}${l ? `{${l}}` : ""} ${num(v)}`);
}

/** Midnight UTC at the start of a `YYYYMMDD` day, in seconds. */
function dayStartSeconds(day: string): number {
  return Date.UTC(Number(day.slice(0, 4)), Number(day.slice(4, 6)) - 1, Number(day.slice(6))) /
    1000;
}

/**
 * Creates an empty set of metrics.
 *
 * @example
 * ```ts
 * const metrics = createMetrics();
 * metrics.request("/", "redirect", 307, 0.0004);
 * metrics.render(); // "# HELP s3proxy_requests_total ...\n..."
 * ```
 */
export function createMetrics(): Metrics {
  const requests = new CounterFamily(
    "s3proxy_requests_total",
    "Requests answered, by route prefix, decision and status.",
    ["route", "decision", "status"],
  );
  const durations = new HistogramFamily(
    "s3proxy_request_duration_seconds",
    "Time from a request to its response headers, by route prefix and decision.",
    ["route", "decision"],
  );
  const upstreams = new CounterFamily(
    "s3proxy_upstream_requests_total",
    "Requests sent to S3, by route prefix and outcome (status class, timeout, unreachable).",
    ["route", "outcome"],
  );
  const upstreamDurations = new HistogramFamily(
    "s3proxy_upstream_duration_seconds",
    "Time from sending a request to S3 to its response headers, by route prefix.",
    ["route"],
  );
  const bytes = new CounterFamily(
    "s3proxy_response_bytes_total",
    "Bytes of response bodies (as declared by Content-Length, else counted), by route prefix.",
    ["route"],
  );
  const authFailures = new CounterFamily(
    "s3proxy_auth_failures_total",
    "Requests refused by a route's access control, by route prefix and access-control method.",
    ["route", "method"],
  );
  // The hot path: one lookup by the raw values (bounded as they are: prefixes, the code's
  // decision names, integer statuses) to the counter and the histogram they feed.
  const hot = new Map<string, { counter: { value: number }; histogram: Histogram }>();
  return {
    request(route, decision, status, seconds) {
      const key = (route ?? "") + SEP + decision + SEP + status;
      let entry = hot.get(key);
      if (!entry) {
        const r = routeLabel(route);
        const d = decisionLabel(decision);
        entry = {
          counter: requests.get([r, d, statusLabel(status)]),
          histogram: durations.get([r, d]),
        };
        // Only label-shaped values are remembered: anything else is looked up every time.
        if (d === decision && Number.isInteger(status)) hot.set(key, entry);
      }
      entry.counter.value++;
      observe(entry.histogram, seconds);
    },
    responseBytes(route, n) {
      if (n > 0) bytes.add([routeLabel(route)], n);
    },
    upstream(route, outcome, seconds) {
      upstreams.add([route, outcome]);
      upstreamDurations.observe([route], seconds);
    },
    authFailure(route, method) {
      authFailures.add([routeLabel(route), AUTH_METHODS.has(method) ? method : "other"]);
    },
    render(extra = {}) {
      const out: string[] = [];
      requests.render(out);
      durations.render(out);
      upstreams.render(out);
      upstreamDurations.render(out);
      bytes.render(out);
      authFailures.render(out);
      renderScrape(out, extra);
      return out.join("\n") + "\n";
    },
  };
}

function renderScrape(out: string[], extra: Scrape): void {
  const routes = extra.routes ?? [];
  const rl = (r: RouteState) => labels(["route", "source"], [r.route, r.source]);
  gauge(
    out,
    "s3proxy_route_ready",
    "1 when the route can sign requests now (credentials usable, signing key valid today).",
    routes.map((r) => [labels(["route"], [r.route]), r.ready ? 1 : 0]),
  );
  gauge(
    out,
    "s3proxy_credentials_expiry_timestamp_seconds",
    "When the route's credentials in hand stop working (signing keys: the end of the last day " +
      "covered without a gap from today).",
    routes.filter((r) => r.expiration !== undefined).map((r) => [rl(r), r.expiration! / 1000]),
  );
  gauge(
    out,
    "s3proxy_signing_key_last_day_timestamp_seconds",
    "Start (00:00 UTC) of the last day that the route's signing key (or key file) covers.",
    routes.filter((r) => r.lastDay !== undefined).map((r) => [rl(r), dayStartSeconds(r.lastDay!)]),
  );
  const failures = extra.refreshFailures ?? [];
  if (failures.length > 0) {
    out.push(
      "# HELP s3proxy_credential_refresh_failures_total Failed refreshes of temporary " +
        "credentials, by credential source.",
      "# TYPE s3proxy_credential_refresh_failures_total counter",
    );
    for (const f of failures) {
      out.push(
        `s3proxy_credential_refresh_failures_total{${labels(["source"], [f.source])}} ${f.count}`,
      );
    }
  }
  if (extra.build) {
    const b = extra.build;
    gauge(out, "s3proxy_build_info", "The proxy's version and runtime; always 1.", [[
      labels(["version", "runtime", "runtime_version"], [b.version, b.runtime, b.runtimeVersion]),
      1,
    ]]);
  }
  const p = extra.process ?? {};
  const one = (name: string, help: string, value: number | undefined) =>
    value !== undefined && gauge(out, name, help, [["", value]]);
  one("process_resident_memory_bytes", "Resident memory size in bytes.", p.residentBytes);
  one("process_heap_bytes", "JavaScript heap in use, in bytes.", p.heapBytes);
  one("process_open_fds", "Number of open file descriptors.", p.openFds);
  one(
    "process_start_time_seconds",
    "Start time of the process since the epoch, in seconds.",
    p.startTimeSeconds,
  );
}
