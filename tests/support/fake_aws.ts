/**
 * Loopback fakes of the AWS credential endpoints, for tests: STS (`AssumeRoleWithWebIdentity`,
 * form POST or query GET, XML answers), the ECS/EKS container endpoint (JSON, optional
 * `Authorization`), and IMDSv2 (token PUT required, GETs without a valid token get 401). Each
 * binds 127.0.0.1 on a free port, records every request, issues numbered credentials that expire
 * on an injected clock, and can be told to answer differently (a 5xx, a malformed body, a hang)
 * for the next matching requests, or to hold all answers until released.
 *
 * @module
 */

/** A request as the fake received it. */
export interface RecordedRequest {
  readonly method: string;
  /** Path and query, e.g. `/latest/api/token`. */
  readonly path: string;
  readonly headers: Headers;
  readonly body: string;
}

/** An answer, or a hang (no answer until the client gives up or the fake closes). */
export interface Reply {
  readonly status?: number;
  readonly body?: string;
  readonly headers?: Record<string, string>;
  readonly hang?: boolean;
}

/** Credentials the fake issued. */
export interface IssuedCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  /** Epoch milliseconds. */
  readonly expiration: number;
}

/** A running fake. */
export interface FakeServer {
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Every credential set answered so far, to search logs for their values. */
  readonly issued: IssuedCredentials[];
  /** Answers the next `times` requests matching `match` with `reply` instead of the default. */
  override(match: (req: RecordedRequest) => boolean, reply: Reply, times?: number): void;
  /** Holds every answer until the returned function is called. */
  hold(): () => void;
  /** Resolves once `n` requests have arrived in all. */
  waitForRequests(n: number): Promise<void>;
  close(): Promise<void>;
}

interface Override {
  match: (req: RecordedRequest) => boolean;
  reply: Reply;
  times: number;
}

let serial = 0;

/** Fresh, unique credentials expiring `lifetimeMs` after `now`; `fixed` overrides parts. */
function issue(
  kind: string,
  n: number,
  now: number,
  lifetimeMs: number,
  fixed?: FixedCredentials,
): IssuedCredentials {
  const tag = `${kind}${n}x${++serial}${crypto.randomUUID().replaceAll("-", "")}`;
  return {
    accessKeyId: fixed?.accessKeyId ?? `ASIA${kind.toUpperCase()}${String(n).padStart(4, "0")}`,
    secretAccessKey: fixed?.secretAccessKey ?? `secret/${tag}+S`,
    sessionToken: fixed?.sessionToken ?? `token+${tag}/T==`,
    expiration: now + lifetimeMs,
  };
}

/**
 * Starts a fake with a default behaviour: `answer(req, issue)` where `issue()` mints the next
 * credential set (recorded in `issued`).
 */
function startFake(
  answer: (req: RecordedRequest, mint: () => IssuedCredentials) => Reply | Promise<Reply>,
  kind: string,
  clock: () => number,
  lifetimeMs: () => number,
  keys?: (n: number) => FixedCredentials | undefined,
): Promise<FakeServer> {
  const requests: RecordedRequest[] = [];
  const issued: IssuedCredentials[] = [];
  const overrides: Override[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  let gate: Promise<void> | undefined;
  let releaseGate: (() => void) | undefined;
  let closing!: () => void;
  const closed = new Promise<void>((resolve) => closing = resolve);

  const mint = () => {
    const n = issued.length + 1;
    const creds = issue(kind, n, clock(), lifetimeMs(), keys?.(n));
    issued.push(creds);
    return creds;
  };

  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    const recorded: RecordedRequest = {
      method: req.method,
      path: url.pathname + url.search,
      headers: req.headers,
      body: await req.text(),
    };
    requests.push(recorded);
    for (const w of waiters.splice(0)) {
      if (requests.length >= w.n) w.resolve();
      else waiters.push(w);
    }
    if (gate) await Promise.race([gate, closed]);
    let reply: Reply | undefined;
    const o = overrides.find((o) => o.times > 0 && o.match(recorded));
    if (o) {
      o.times--;
      reply = o.reply;
    } else {
      reply = await answer(recorded, mint);
    }
    if (reply.hang) {
      await closed; // the client gives up on its own; the fake lets go when it closes
      return new Response(null, { status: 599 });
    }
    return new Response(reply.body ?? "", {
      status: reply.status ?? 200,
      headers: reply.headers,
    });
  });

  return Promise.resolve({
    url: `http://127.0.0.1:${server.addr.port}`,
    requests,
    issued,
    override(match, reply, times = 1) {
      overrides.push({ match, reply, times });
    },
    hold() {
      gate = new Promise<void>((resolve) => releaseGate = resolve);
      return () => {
        gate = undefined;
        releaseGate?.();
      };
    },
    waitForRequests(n) {
      if (requests.length >= n) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ n, resolve }));
    },
    async close() {
      releaseGate?.();
      closing();
      await server.shutdown();
    },
  });
}

function xmlEscape(s: string): string {
  return s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

/** The body of a successful `AssumeRoleWithWebIdentity` answer. */
export function stsSuccessXml(creds: IssuedCredentials, roleArn: string): string {
  return `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>system:serviceaccount:default:proxy</SubjectFromWebIdentityToken>
    <AssumedRoleUser>
      <Arn>${xmlEscape(roleArn)}/session</Arn>
      <AssumedRoleId>AROAEXAMPLE:session</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <SessionToken>${xmlEscape(creds.sessionToken)}</SessionToken>
      <SecretAccessKey>${xmlEscape(creds.secretAccessKey)}</SecretAccessKey>
      <Expiration>${new Date(creds.expiration).toISOString()}</Expiration>
      <AccessKeyId>${creds.accessKeyId}</AccessKeyId>
    </Credentials>
    <Provider>oidc.eks.example</Provider>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>
`;
}

/** An STS error document. */
export function stsErrorXml(code: string, message: string): string {
  return `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>Sender</Type><Code>${code}</Code><Message>${xmlEscape(message)}</Message></Error>
  <RequestId>00000000-0000-0000-0000-000000000000</RequestId>
</ErrorResponse>
`;
}

/** The JSON the container endpoint and IMDS answer. */
export function credentialsJson(creds: IssuedCredentials, imds = false): string {
  return JSON.stringify({
    ...(imds ? { Code: "Success", LastUpdated: new Date().toISOString(), Type: "AWS-HMAC" } : {}),
    AccessKeyId: creds.accessKeyId,
    SecretAccessKey: creds.secretAccessKey,
    Token: creds.sessionToken,
    Expiration: new Date(creds.expiration).toISOString(),
    ...(imds ? {} : { RoleArn: "arn:aws:iam::123456789012:role/proxy" }),
  });
}

/** Parts of an issued credential set that a test fixes (the rest is generated). */
export interface FixedCredentials {
  readonly accessKeyId?: string;
  readonly secretAccessKey?: string;
  readonly sessionToken?: string;
}

/** Options shared by the fakes. */
export interface FakeOptions {
  /** The clock expirations are computed from (the test's injected clock). */
  readonly clock: () => number;
  /** Lifetime of issued credentials (default 1 hour); read at each issue. */
  readonly lifetimeMs?: () => number;
  /**
   * The key pair (and optionally the session token) of the `n`th credential set issued (from
   * 1), for a server that must know the pairs in advance (s3rver); `undefined` or absent:
   * generated. Read at each issue, so a test can rotate the pair.
   */
  readonly keys?: (n: number) => FixedCredentials | undefined;
}

/**
 * A fake STS. Accepts the query API as a form POST or a GET; checks Action, Version, RoleArn and
 * RoleSessionName; `validToken(token)` decides whether the web identity token is accepted
 * (default: any non-empty token), else it answers 400 `InvalidIdentityToken`.
 */
export function startFakeSts(
  options: FakeOptions & { readonly validToken?: (token: string) => boolean },
): Promise<FakeServer> {
  return startFake(
    (req, mint) => {
      const params = req.method === "POST"
        ? new URLSearchParams(req.body)
        : new URL("http://x" + req.path).searchParams;
      if (
        req.method === "POST" && !req.headers.get("content-type")?.startsWith(
          "application/x-www-form-urlencoded",
        )
      ) {
        return { status: 400, body: stsErrorXml("InvalidParameterValue", "bad content type") };
      }
      if (req.headers.has("authorization")) {
        return { status: 400, body: stsErrorXml("InvalidParameterCombination", "signed") };
      }
      if (
        params.get("Action") !== "AssumeRoleWithWebIdentity" ||
        params.get("Version") !== "2011-06-15"
      ) {
        return { status: 400, body: stsErrorXml("InvalidAction", "unknown action") };
      }
      const roleArn = params.get("RoleArn") ?? "";
      if (!roleArn.startsWith("arn:") || !params.get("RoleSessionName")) {
        return { status: 400, body: stsErrorXml("ValidationError", "missing RoleArn or session") };
      }
      const token = params.get("WebIdentityToken") ?? "";
      if (!token || !(options.validToken ?? (() => true))(token)) {
        return {
          status: 400,
          body: stsErrorXml("InvalidIdentityToken", "Couldn't verify the token"),
        };
      }
      return {
        status: 200,
        headers: { "content-type": "text/xml" },
        body: stsSuccessXml(mint(), roleArn),
      };
    },
    "sts",
    options.clock,
    options.lifetimeMs ?? (() => 3_600_000),
    options.keys,
  );
}

/**
 * A fake container credentials endpoint at `path` (default `/creds`). With `authorization`, a
 * request whose `Authorization` header differs is answered 401.
 */
export function startFakeContainer(
  options: FakeOptions & { readonly path?: string; readonly authorization?: () => string },
): Promise<FakeServer> {
  const path = options.path ?? "/creds";
  return startFake(
    (req, mint) => {
      if (req.method !== "GET" || req.path !== path) return { status: 404, body: "not found" };
      if (options.authorization && req.headers.get("authorization") !== options.authorization()) {
        return { status: 401, body: '{"Code":"Unauthorized","Message":"bad token"}' };
      }
      return {
        status: 200,
        headers: { "content-type": "application/json" },
        body: credentialsJson(mint()),
      };
    },
    "ecs",
    options.clock,
    options.lifetimeMs ?? (() => 3_600_000),
    options.keys,
  );
}

/**
 * A fake IMDSv2: `PUT /latest/api/token` with a TTL header of 1..21600 issues a session token
 * (expiring on the clock); every GET needs a live token in `X-aws-ec2-metadata-token` (else
 * 401); `/latest/meta-data/iam/security-credentials/` lists `role`, and that role's path answers
 * its credentials.
 */
export function startFakeImds(
  options: FakeOptions & { readonly role?: string },
): Promise<FakeServer & { readonly tokens: Map<string, number> }> {
  const role = options.role ?? "proxy-role";
  const tokens = new Map<string, number>();
  const list = "/latest/meta-data/iam/security-credentials/";
  return startFake(
    (req, mint) => {
      if (req.path === "/latest/api/token") {
        if (req.method !== "PUT") return { status: 405 };
        const ttl = Number(req.headers.get("x-aws-ec2-metadata-token-ttl-seconds"));
        if (!Number.isInteger(ttl) || ttl < 1 || ttl > 21600) return { status: 400 };
        const token = `imds-session-${crypto.randomUUID()}`;
        tokens.set(token, options.clock() + ttl * 1000);
        return { status: 200, body: token };
      }
      if (req.method !== "GET") return { status: 405 };
      const token = req.headers.get("x-aws-ec2-metadata-token") ?? "";
      const until = tokens.get(token);
      if (until === undefined || options.clock() >= until) return { status: 401 };
      if (req.path === list) return { status: 200, body: role };
      if (req.path === list + role) {
        return { status: 200, body: credentialsJson(mint(), true) };
      }
      return { status: 404 };
    },
    "imds",
    options.clock,
    options.lifetimeMs ?? (() => 6 * 3_600_000),
    options.keys,
  ).then((fake) => Object.assign(fake, { tokens }));
}

/** A clock the test moves by hand. */
export interface TestClock {
  now: () => number;
  set(ms: number): void;
  advance(ms: number): void;
}

/**
 * A hand-moved clock starting at `start` (epoch milliseconds).
 *
 * @example
 * ```ts
 * const clock = testClock(Date.UTC(2030, 0, 1));
 * clock.advance(60_000);
 * ```
 */
export function testClock(start: number): TestClock {
  let t = start;
  return {
    now: () => t,
    set(ms) {
      t = ms;
    },
    advance(ms) {
      t += ms;
    },
  };
}

/** Timers that run only when the test says so. */
export interface ManualTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
  /** Number of timers pending. */
  readonly pending: number;
  /** Runs every pending timer (not those they schedule) and waits for their promises. */
  runAll(): Promise<void>;
}

/** Creates {@linkcode ManualTimers}. */
export function manualTimers(): ManualTimers {
  let next = 1;
  const timers = new Map<number, () => void | Promise<void>>();
  return {
    setTimeout(fn) {
      const id = next++;
      timers.set(id, fn);
      return id;
    },
    clearTimeout(id) {
      timers.delete(id as number);
    },
    get pending() {
      return timers.size;
    },
    async runAll() {
      const due = [...timers.entries()];
      timers.clear();
      for (const [, fn] of due) await fn();
    },
  };
}

/** A file system in memory: `readTextFile` rejects like Deno for a missing path. */
export function memoryFiles(initial: Record<string, string> = {}): {
  files: Map<string, string>;
  reads: string[];
  readTextFile: (path: string) => Promise<string>;
} {
  const files = new Map(Object.entries(initial));
  const reads: string[] = [];
  return {
    files,
    reads,
    readTextFile(path) {
      reads.push(path);
      const text = files.get(path);
      if (text === undefined) {
        return Promise.reject(
          Object.assign(new Error(`No such file or directory (os error 2): readfile '${path}'`), {
            name: "NotFound",
            code: "ENOENT",
          }),
        );
      }
      return Promise.resolve(text);
    },
  };
}

/** A log sink that keeps events, and a check that none holds any of `secrets`. */
export function captureLog(): {
  events: Record<string, unknown>[];
  log: (event: Record<string, unknown>) => void;
  text(): string;
} {
  const events: Record<string, unknown>[] = [];
  return {
    events,
    log: (event) => {
      events.push(event);
    },
    text: () => events.map((e) => JSON.stringify(e)).join("\n"),
  };
}
