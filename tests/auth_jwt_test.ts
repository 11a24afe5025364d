/**
 * `jwt` (src/auth/jwt.ts) against a loopback OIDC issuer (tests/support/oidc.ts: discovery and
 * a JWKS, keys and tokens made with `node:crypto`): RS256, PS256, ES256 and EdDSA tokens admitted
 * with their `sub`; every refusal the issue names (alg none, HS256 keyed with the public key, an
 * unknown kid, an alg the key is not for, exp/nbf outside the leeway, iss, aud, malformed tokens,
 * claim rules); key rotation with the refetch rate-limited; an issuer down at startup; a
 * discovery document naming another issuer; nothing of a token in the log.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createJwtAuth, type JwtOptions } from "../src/auth/jwt.ts";
import { AuthConfigError, type AuthIo, type AuthOutcome } from "../src/auth/method.ts";
import {
  type Issuer,
  makeKey,
  signHs256,
  type SigningKey,
  signJwt,
  startIssuer,
  unsignedJwt,
} from "./support/oidc.ts";

const T0 = Date.UTC(2026, 0, 1, 12);
const AUDIENCE = "s3-proxy";

function io(clock: { t: number }, logs: Record<string, unknown>[], fetchFn = fetch): AuthIo {
  return {
    readTextFile: () => Promise.reject(new Error("no files here")),
    fileMode: () => Promise.resolve(undefined),
    fetch: fetchFn,
    now: () => clock.t,
    log: (e) => logs.push(e),
  };
}

function input(authorization?: string) {
  const headers = authorization === undefined ? undefined : { authorization };
  const req = new Request("http://p/x", { headers });
  return { req, method: "GET", url: req.url, clientAddr: "127.0.0.1" };
}

const bearer = (token: string) => input(`Bearer ${token}`);

function refused(outcome: AuthOutcome, reason: RegExp) {
  if (outcome.kind !== "fail") assert.fail(`expected a refusal, got ${JSON.stringify(outcome)}`);
  assert.equal(outcome.status, 401);
  assert.equal(outcome.headers?.["www-authenticate"], 'Bearer realm="r", error="invalid_token"');
  assert.equal(outcome.message, "the bearer token was refused", "no detail for the client");
  assert.match(outcome.reason, reason);
}

describe("the jwt method", () => {
  let issuer: Issuer;
  const rsa = makeKey("RS256", "rsa-1");
  const pss = makeKey("PS256", "pss-1");
  const ec = makeKey("ES256", "ec-1");
  const ed = makeKey("EdDSA", "ed-1");
  /** The RSA key again, published without `alg`: it may sign RS256 and PS256. */
  const anyRsa: SigningKey = {
    ...rsa,
    kid: "rsa-any",
    jwk: { ...rsa.jwk, kid: "rsa-any", alg: undefined },
  };
  const claims = (extra: Record<string, unknown> = {}) => ({
    iss: issuer.issuer,
    aud: AUDIENCE,
    sub: "user-42",
    exp: T0 / 1000 + 300,
    iat: T0 / 1000,
    ...extra,
  });

  before(async () => {
    issuer = await startIssuer([rsa, pss, ec, ed, anyRsa]);
  });
  after(async () => {
    await issuer.close();
  });

  async function start(options: Partial<JwtOptions> = {}, clock = { t: T0 }) {
    const logs: Record<string, unknown>[] = [];
    const jwt = await createJwtAuth({
      issuer: issuer.issuer,
      audience: AUDIENCE,
      require: [],
      realm: "r",
      ...options,
    }, io(clock, logs));
    return { jwt, logs, clock };
  }

  test("discovery, then RS256, PS256, ES256 and EdDSA tokens are admitted with their sub", async () => {
    const before = issuer.discoveryFetches();
    const { jwt, logs } = await start();
    assert.equal(issuer.discoveryFetches(), before + 1);
    assert.equal(jwt.challenge?.(), 'Bearer realm="r"');
    for (const key of [rsa, pss, ec, ed]) {
      assert.deepEqual(
        await jwt.check(bearer(signJwt(key, claims({ sub: `sub-${key.alg}` })))),
        { kind: "ok", principal: `sub-${key.alg}` },
        key.alg,
      );
    }
    // A key published without alg verifies either RSA algorithm.
    const ps = signJwt({ ...anyRsa, alg: "PS256" }, claims());
    assert.equal((await jwt.check(bearer(ps))).kind, "ok");
    assert.ok(logs.some((l) => l.event === "auth_jwt_keys_loaded" && l.keys === 5));
    jwt.close?.();
  });

  test("no Bearer header is absent; Basic is not ours", async () => {
    const { jwt } = await start();
    assert.deepEqual(await jwt.check(input()), { kind: "absent" });
    assert.deepEqual(await jwt.check(input("Basic YTpi")), { kind: "absent" });
    refused(await jwt.check(input("Bearer ")), /malformed/);
    jwt.close?.();
  });

  test("alg none, HS256 keyed with the public key, unsupported algs and crit are refused", async () => {
    const { jwt } = await start();
    refused(await jwt.check(bearer(unsignedJwt(claims(), { kid: "rsa-1" }))), /alg none/);
    refused(await jwt.check(bearer(unsignedJwt(claims(), { alg: "None" }))), /alg none/);
    const hs = signHs256(rsa.publicPem, claims(), { kid: "rsa-1" });
    refused(await jwt.check(bearer(hs)), /HMAC alg HS256/);
    const hsJwk = signHs256(JSON.stringify(rsa.jwk), claims(), { kid: "rsa-1" });
    refused(await jwt.check(bearer(hsJwk)), /HMAC/);
    refused(
      await jwt.check(bearer(signJwt(rsa, claims(), { alg: "RS1" }))),
      /unsupported alg RS1/,
    );
    refused(
      await jwt.check(bearer(signJwt(rsa, claims(), { crit: ["exp"] }))),
      /crit header/,
    );
    jwt.close?.();
  });

  test("an unknown kid, an alg the key is not for, a forged or bad signature are refused", async () => {
    const { jwt } = await start();
    const stranger = makeKey("RS256", "stranger");
    refused(await jwt.check(bearer(signJwt(stranger, claims()))), /unknown kid stranger/);
    // The attacker's own key under a known kid: the signature does not verify.
    refused(
      await jwt.check(bearer(signJwt({ ...stranger, kid: "rsa-1" }, claims()))),
      /bad signature/,
    );
    // alg/key mismatch: an ES256 header naming the RSA key, RS256 naming the EC key, PS256
    // naming a key published for RS256, EdDSA naming the EC key.
    refused(
      await jwt.check(bearer(signJwt(ec, claims(), { kid: "rsa-1" }))),
      /alg ES256 does not fit/,
    );
    refused(
      await jwt.check(bearer(signJwt(rsa, claims(), { kid: "ec-1" }))),
      /alg RS256 does not fit/,
    );
    refused(
      await jwt.check(bearer(signJwt({ ...rsa, alg: "PS256" }, claims()))),
      /alg PS256 does not fit/,
    );
    refused(
      await jwt.check(bearer(signJwt(ed, claims(), { kid: "ec-1" }))),
      /alg EdDSA does not fit/,
    );
    // A signature that is not the token's: another token's signature on these claims.
    const good = signJwt(rsa, claims());
    const other = signJwt(rsa, claims({ sub: "admin" }));
    const spliced = other.split(".").slice(0, 2).join(".") + "." + good.split(".")[2];
    refused(await jwt.check(bearer(spliced)), /bad signature/);
    const shortEc = signJwt(ec, claims()).replace(/\.[^.]+$/, ".AAAA");
    refused(await jwt.check(bearer(shortEc)), /bad signature length/);
    jwt.close?.();
  });

  test("exp and nbf with a 60-second leeway; no exp is refused", async () => {
    const { jwt, clock } = await start();
    const now = T0 / 1000;
    assert.equal((await jwt.check(bearer(signJwt(rsa, claims({ exp: now - 59 }))))).kind, "ok");
    refused(await jwt.check(bearer(signJwt(rsa, claims({ exp: now - 61 })))), /expired/);
    assert.equal((await jwt.check(bearer(signJwt(rsa, claims({ nbf: now + 59 }))))).kind, "ok");
    refused(await jwt.check(bearer(signJwt(rsa, claims({ nbf: now + 61 })))), /not yet valid/);
    refused(await jwt.check(bearer(signJwt(rsa, claims({ exp: undefined })))), /no exp/);
    refused(await jwt.check(bearer(signJwt(rsa, claims({ exp: "soon" })))), /no exp/);
    // A cached token expires all the same.
    const token = signJwt(rsa, claims({ exp: now + 10 }));
    assert.equal((await jwt.check(bearer(token))).kind, "ok");
    clock.t += 71_000;
    refused(await jwt.check(bearer(token)), /expired/);
    jwt.close?.();
  });

  test("iss and aud must match; sub is required", async () => {
    const { jwt } = await start();
    refused(
      await jwt.check(bearer(signJwt(rsa, claims({ iss: "https://evil.example" })))),
      /wrong issuer/,
    );
    refused(await jwt.check(bearer(signJwt(rsa, claims({ iss: undefined })))), /wrong issuer/);
    refused(await jwt.check(bearer(signJwt(rsa, claims({ aud: "other" })))), /audience/);
    refused(await jwt.check(bearer(signJwt(rsa, claims({ aud: undefined })))), /audience/);
    assert.equal(
      (await jwt.check(bearer(signJwt(rsa, claims({ aud: ["other", AUDIENCE] }))))).kind,
      "ok",
    );
    refused(await jwt.check(bearer(signJwt(rsa, claims({ sub: undefined })))), /no sub/);
    jwt.close?.();
  });

  test("malformed tokens", async () => {
    const { jwt } = await start();
    const good = signJwt(rsa, claims());
    const [h, p, s] = good.split(".");
    const b64 = (text: string) => btoa(text).replace(/=+$/, "");
    const enc = (o: unknown) => b64(JSON.stringify(o));
    for (
      const [token, reason] of [
        ["abc", /not three parts/],
        [`${h}.${p}`, /not three parts/],
        [`${good}.x`, /not three parts/],
        [`${h}.${p}.${s}=`, /malformed/],
        [`!!.${p}.${s}`, /malformed/],
        [`${b64("not json")}.${p}.${s}`, /header is not JSON/],
        [`${enc([1])}.${p}.${s}`, /header is not an object/],
        [`${h}.${b64("[]")}.${s}`, /payload is not an object/],
        [`${enc({ kid: "rsa-1" })}.${p}.${s}`, /no alg/],
        [`${enc({ alg: "RS256", kid: 7 })}.${p}.${s}`, /malformed kid/],
      ] as const
    ) {
      refused(await jwt.check(bearer(token)), reason);
    }
    jwt.close?.();
  });

  test("claim rules: arrays contain, booleans and numbers by their JSON text, nested paths, all must hold", async () => {
    const require: [string, string][] = [
      ["groups", "readers"],
      ["email_verified", "true"],
      ["level", "3"],
      ["realm_access.roles", "s3"],
    ];
    const { jwt } = await start({ require });
    const ok = {
      groups: ["staff", "readers"],
      email_verified: true,
      level: 3,
      realm_access: { roles: ["s3"] },
    };
    assert.equal((await jwt.check(bearer(signJwt(rsa, claims(ok))))).kind, "ok");
    const breaks: Record<string, unknown>[] = [
      { groups: ["staff"] },
      { groups: "readers-not" },
      { groups: undefined },
      { email_verified: false },
      { email_verified: "yes" },
      { level: 4 },
      { realm_access: { roles: ["other"] } },
      { realm_access: undefined },
    ];
    for (const change of breaks) {
      refused(
        await jwt.check(bearer(signJwt(rsa, claims({ ...ok, ...change })))),
        /claim rule .* fails/,
      );
    }
    // A string claim equal to the value; the string "true" passes too (JSON text compared).
    assert.equal(
      (await jwt.check(bearer(signJwt(rsa, claims({ ...ok, groups: "readers" }))))).kind,
      "ok",
    );
    jwt.close?.();
  });

  test("key rotation: an unknown kid fetches the set again, at most once a minute", async () => {
    issuer.setKeys([rsa]);
    try {
      const { jwt, clock, logs } = await start();
      const fetches = issuer.jwksFetches();
      const next = makeKey("ES256", "ec-2");
      refused(await jwt.check(bearer(signJwt(next, claims()))), /unknown kid ec-2/);
      assert.equal(issuer.jwksFetches(), fetches, "fetched a moment ago: not again");
      issuer.setKeys([rsa, next]);
      clock.t += 30_000;
      refused(await jwt.check(bearer(signJwt(next, claims()))), /unknown kid/);
      assert.equal(issuer.jwksFetches(), fetches, "still within the minute");
      clock.t += 30_000;
      const t = signJwt(next, claims());
      const both = await Promise.all([
        jwt.check(bearer(t)),
        jwt.check(bearer(signJwt(next, claims({ sub: "b" })))),
      ]);
      assert.deepEqual(both.map((o) => o.kind), ["ok", "ok"]);
      assert.equal(issuer.jwksFetches(), fetches + 1, "one fetch for both");
      assert.ok(logs.some((l) => l.event === "auth_jwt_keys_changed"));
      for (let i = 0; i < 5; i++) {
        refused(
          await jwt.check(bearer(signJwt(makeKey("ES256", `junk-${i}`), claims()))),
          /unknown kid/,
        );
      }
      assert.equal(issuer.jwksFetches(), fetches + 1, "junk kids do not hammer the issuer");
      // A key removed from the set: once fetched again (SIGHUP), its tokens are refused, cached or not.
      const old = signJwt(rsa, claims());
      assert.equal((await jwt.check(bearer(old))).kind, "ok");
      issuer.setKeys([next]);
      await jwt.reload?.();
      refused(await jwt.check(bearer(old)), /unknown kid rsa-1/);
      assert.equal((await jwt.check(bearer(t))).kind, "ok");
      jwt.close?.();
    } finally {
      issuer.setKeys([rsa, pss, ec, ed, anyRsa]);
    }
  });

  test("AUTH_JWT_JWKS_URL without an issuer: no discovery, no iss check", async () => {
    const before = issuer.discoveryFetches();
    const { jwt } = await start({ issuer: undefined, jwksUrl: issuer.jwksUrl });
    assert.equal(issuer.discoveryFetches(), before);
    const token = signJwt(ec, claims({ iss: "anything" }));
    assert.deepEqual(await jwt.check(bearer(token)), { kind: "ok", principal: "user-42" });
    jwt.close?.();
  });

  test("a discovery document naming another issuer stops startup", async () => {
    issuer.setAdvertisedIssuer("https://elsewhere.example");
    try {
      await assert.rejects(start(), (e: Error) => {
        assert.ok(e instanceof AuthConfigError);
        assert.match(e.message, /names the issuer "https:\/\/elsewhere.example"/);
        return true;
      });
    } finally {
      issuer.setAdvertisedIssuer(issuer.issuer);
    }
  });

  test("an issuer down at startup: the method starts, refuses every token, and recovers", async () => {
    issuer.setDown(true);
    const clock = { t: T0 };
    const logs: Record<string, unknown>[] = [];
    const timers: { fn: () => void; ms: number }[] = [];
    const jwt = await createJwtAuth({
      issuer: issuer.issuer,
      audience: AUDIENCE,
      require: [],
      realm: "r",
    }, {
      ...io(clock, logs),
      setTimeout: (fn, ms) => timers.push({ fn, ms }),
      clearTimeout: () => {},
    });
    try {
      const down = logs.find((l) => l.event === "auth_jwt_keys_unavailable");
      assert.ok(down, JSON.stringify(logs));
      assert.equal(down.level, "error");
      assert.match(String(down.error), /answered 503/);
      const token = signJwt(rsa, claims());
      refused(await jwt.check(bearer(token)), /no key set/);
      assert.deepEqual(timers.map((t) => t.ms), [1000], "a retry in a second");
      // The timer's callback is the retry; it resolves once the next one is scheduled.
      const fire = () => timers.shift()!.fn() as unknown as Promise<void>;
      await fire();
      assert.deepEqual(timers.map((t) => t.ms), [2000], "still down: twice as long");
      issuer.setDown(false);
      await fire();
      assert.deepEqual(timers.map((t) => t.ms), [900_000], "then the usual refresh");
      assert.equal((await jwt.check(bearer(token))).kind, "ok");
    } finally {
      issuer.setDown(false);
      jwt.close?.();
    }
  });

  test("nothing of a token is logged", async () => {
    const { jwt, logs } = await start();
    const tokens = [
      signJwt(rsa, claims()),
      signJwt(rsa, claims({ aud: "x" })),
      unsignedJwt(claims()),
    ];
    for (const t of tokens) await jwt.check(bearer(t));
    const text = JSON.stringify(logs);
    for (const t of tokens) {
      for (const part of t.split(".").filter((p) => p.length > 8)) {
        assert.ok(!text.includes(part.slice(0, 24)), "a token part in the log");
      }
    }
    jwt.close?.();
  });
});
