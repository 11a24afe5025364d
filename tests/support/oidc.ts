/**
 * A loopback OIDC issuer for the tests: discovery at `<issuer>/.well-known/openid-configuration`
 * and a JWKS, with keys made and tokens signed by `node:crypto` (independent of the WebCrypto
 * verification under test). The key set can be changed while it runs (rotation), and it counts
 * the JWKS fetches.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { constants, createHmac, generateKeyPairSync, type KeyObject, sign } from "node:crypto";

/** The signing algorithms the issuer can use. */
export type Alg = "RS256" | "PS256" | "ES256" | "EdDSA";

/** A private key and its public JWK. */
export interface SigningKey {
  readonly kid: string;
  readonly alg: Alg;
  readonly privateKey: KeyObject;
  /** The public key as PEM (for the HS256-with-the-public-key attack). */
  readonly publicPem: string;
  readonly jwk: Record<string, unknown>;
}

/** A fresh key for `alg`, named `kid`. */
export function makeKey(alg: Alg, kid: string): SigningKey {
  const pair = alg === "ES256"
    ? generateKeyPairSync("ec", { namedCurve: "P-256" })
    : alg === "EdDSA"
    ? generateKeyPairSync("ed25519")
    : generateKeyPairSync("rsa", { modulusLength: 2048 });
  const jwk = pair.publicKey.export({ format: "jwk" }) as Record<string, unknown>;
  return {
    kid,
    alg,
    privateKey: pair.privateKey,
    publicPem: pair.publicKey.export({ format: "pem", type: "spki" }) as string,
    jwk: { ...jwk, kid, use: "sig", alg },
  };
}

const b64url = (data: Uint8Array | string) =>
  (typeof data === "string" ? Buffer.from(data) : Buffer.from(data)).toString("base64url");

/** A JWS of `payload` signed with `key` (header `alg`/`kid` from the key unless overridden). */
export function signJwt(
  key: SigningKey,
  payload: Record<string, unknown>,
  header: Record<string, unknown> = {},
): string {
  const head = b64url(JSON.stringify({ alg: key.alg, kid: key.kid, typ: "JWT", ...header }));
  const data = `${head}.${b64url(JSON.stringify(payload))}`;
  const bytes = Buffer.from(data);
  const signature = key.alg === "ES256"
    ? sign("sha256", bytes, { key: key.privateKey, dsaEncoding: "ieee-p1363" })
    : key.alg === "PS256"
    ? sign("sha256", bytes, {
      key: key.privateKey,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: 32,
    })
    : key.alg === "EdDSA"
    ? sign(null, bytes, key.privateKey)
    : sign("sha256", bytes, key.privateKey);
  return `${data}.${b64url(signature)}`;
}

/** An HS256 token whose HMAC secret is `secret` (the public key, in the classic attack). */
export function signHs256(
  secret: string,
  payload: Record<string, unknown>,
  header: Record<string, unknown>,
): string {
  const data = `${b64url(JSON.stringify({ alg: "HS256", typ: "JWT", ...header }))}.${
    b64url(JSON.stringify(payload))
  }`;
  return `${data}.${createHmac("sha256", secret).update(data).digest("base64url")}`;
}

/** An unsigned token (`alg: none`, empty signature). */
export function unsignedJwt(payload: Record<string, unknown>, header = {}): string {
  return `${b64url(JSON.stringify({ alg: "none", typ: "JWT", ...header }))}.${
    b64url(JSON.stringify(payload))
  }.`;
}

/** A running issuer. */
export interface Issuer extends AsyncDisposable {
  /** `http://127.0.0.1:PORT/oidc` */
  readonly issuer: string;
  /** `http://127.0.0.1:PORT/oidc/jwks` */
  readonly jwksUrl: string;
  /** How many times the JWKS was fetched. */
  jwksFetches(): number;
  /** How many times discovery was fetched. */
  discoveryFetches(): number;
  /** Replaces the published keys. */
  setKeys(keys: readonly SigningKey[]): void;
  /** The `issuer` the discovery document names (default: the real one). */
  setAdvertisedIssuer(issuer: string): void;
  /** Answer 503 to everything while down. */
  setDown(down: boolean): void;
  close(): Promise<void>;
}

/** Starts an issuer on 127.0.0.1 publishing `keys`. */
export function startIssuer(keys: readonly SigningKey[]): Promise<Issuer> {
  let published = keys;
  let jwks = 0;
  let discovery = 0;
  let down = false;
  let advertised: string | undefined;
  return new Promise((resolve) => {
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen: ({ port }) => {
        const issuer = `http://127.0.0.1:${port}/oidc`;
        resolve({
          issuer,
          jwksUrl: `${issuer}/jwks`,
          jwksFetches: () => jwks,
          discoveryFetches: () => discovery,
          setKeys: (k) => published = k,
          setAdvertisedIssuer: (i) => advertised = i,
          setDown: (d) => down = d,
          close: () => server.shutdown(),
          [Symbol.asyncDispose]: () => server.shutdown(),
        });
      },
    }, (req) => {
      const url = new URL(req.url);
      if (down) return new Response("down", { status: 503 });
      if (url.pathname === "/oidc/.well-known/openid-configuration") {
        discovery++;
        const issuer = `${url.origin}/oidc`;
        return Response.json({
          issuer: advertised ?? issuer,
          jwks_uri: `${issuer}/jwks`,
          id_token_signing_alg_values_supported: ["RS256", "PS256", "ES256", "EdDSA"],
        });
      }
      if (url.pathname === "/oidc/jwks") {
        jwks++;
        return Response.json({ keys: published.map((k) => k.jwk) });
      }
      return new Response("not found", { status: 404 });
    });
  });
}
