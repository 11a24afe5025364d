/**
 * src/config.ts: every variable's default, each bad value reported with its variable's name, all
 * problems at once, region precedence, host normalisation.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  type Config,
  type ConfigResult,
  DEFAULT_PROXY_PATTERN,
  normalizeHost,
  parseConfig,
} from "../src/config.ts";
import { regionOf } from "../src/env.ts";

function ok(result: ConfigResult): Config {
  if (!result.ok) assert.fail("expected a config, got errors: " + result.errors.join("; "));
  return result.config;
}

function errors(result: ConfigResult): string[] {
  if (result.ok) assert.fail("expected errors, got a config");
  return result.errors;
}

/** Asserts that exactly one error names `variable` and quotes `value`. */
function assertOneError(env: Record<string, string>, variable: string, value: string) {
  const errs = errors(parseConfig(env));
  assert.equal(errs.length, 1, `${variable}=${value}: ${errs.join("; ")}`);
  assert.ok(errs[0].includes(variable), `error names ${variable}: ${errs[0]}`);
  assert.ok(errs[0].includes(value), `error quotes ${JSON.stringify(value)}: ${errs[0]}`);
}

describe("parseConfig defaults", () => {
  test("an empty environment gives every documented default", () => {
    const config = ok(parseConfig({}));
    assert.equal(config.region, "us-east-1");
    assert.equal(config.endpointHost, "s3.us-east-1.amazonaws.com");
    assert.equal(config.externalHost, "s3.us-east-1.amazonaws.com");
    assert.equal(config.scheme, "https");
    assert.equal(config.bucket, undefined);
    assert.equal(config.addressingStyle, "path");
    assert.equal(config.presignExpires, 300);
    assert.equal(config.proxyPattern.source, new RegExp(DEFAULT_PROXY_PATTERN).source);
    assert.equal(config.port, 8080);
    assert.equal(config.hostname, "0.0.0.0");
    assert.equal(config.upstreamTimeoutMs, 30_000);
    assert.equal(config.redirect, "auto");
    assert.equal(config.listBuckets, false);
    assert.equal(config.listing, true);
  });

  test("empty and blank values count as unset", () => {
    const config = ok(parseConfig({
      AWS_REGION: "",
      AWS_DEFAULT_REGION: "  ",
      AWS_ENDPOINT_HOST: "",
      PORT: " ",
      PRESIGN_EXPIRES: "",
      REDIRECT: "",
      S3_BUCKET: "",
      UPSTREAM_TIMEOUT: "",
    }));
    assert.equal(config.region, "us-east-1");
    assert.equal(config.endpointHost, "s3.us-east-1.amazonaws.com");
    assert.equal(config.port, 8080);
    assert.equal(config.presignExpires, 300);
    assert.equal(config.redirect, "auto");
    assert.equal(config.bucket, undefined);
    assert.equal(config.upstreamTimeoutMs, 30_000);
  });

  test("values are trimmed", () => {
    const config = ok(parseConfig({ PORT: " 9000 ", S3_BUCKET: " site ", REDIRECT: " never\n" }));
    assert.equal(config.port, 9000);
    assert.equal(config.bucket, "site");
    assert.equal(config.redirect, "never");
  });

  test("the default proxy pattern matches index.html only as the whole last segment", () => {
    const pattern = ok(parseConfig({})).proxyPattern;
    for (const key of ["index.html", "dir/index.html", "a/b/c/index.html", "dir//index.html"]) {
      assert.equal(pattern.test(key), true, key);
    }
    for (
      const key of [
        "xindex.html",
        "dir/xindex.html",
        "index.html/x",
        "index.htm",
        "index.html.bak",
        "index.HTML",
        "indexhtml",
        "index.html/",
        "dir/index.html\n",
      ]
    ) {
      assert.equal(pattern.test(key), false, JSON.stringify(key));
    }
  });
});

describe("region", () => {
  test("AWS_REGION wins over AWS_DEFAULT_REGION", () => {
    const env = { AWS_REGION: "eu-west-3", AWS_DEFAULT_REGION: "ap-south-1" };
    assert.equal(regionOf(env), "eu-west-3");
    const config = ok(parseConfig(env));
    assert.equal(config.region, "eu-west-3");
    assert.equal(config.endpointHost, "s3.eu-west-3.amazonaws.com");
  });

  test("AWS_DEFAULT_REGION is used when AWS_REGION is unset or blank", () => {
    assert.equal(ok(parseConfig({ AWS_DEFAULT_REGION: "ap-south-1" })).region, "ap-south-1");
    assert.equal(
      ok(parseConfig({ AWS_REGION: "", AWS_DEFAULT_REGION: "ap-south-1" })).region,
      "ap-south-1",
    );
    assert.equal(
      ok(parseConfig({ AWS_DEFAULT_REGION: "ap-south-1" })).endpointHost,
      "s3.ap-south-1.amazonaws.com",
    );
  });

  test("a bad region is named", () => {
    for (const region of ["US_EAST_1", "us east 1", "eu-west-1/x", "a".repeat(65)]) {
      const errs = errors(parseConfig({ AWS_REGION: region }));
      assert.ok(errs.some((e) => e.includes("AWS_REGION") && e.includes(region)), errs.join());
    }
    const errs = errors(parseConfig({ AWS_DEFAULT_REGION: "Bad Region" }));
    assert.ok(errs.some((e) => e.includes("AWS_DEFAULT_REGION")), errs.join());
  });
});

describe("hosts", () => {
  test("normalizeHost lower-cases and drops the scheme's default port", () => {
    assert.equal(normalizeHost("S3.Example.COM:443", "https"), "s3.example.com");
    assert.equal(normalizeHost("s3.example.com:443", "http"), "s3.example.com:443");
    assert.equal(normalizeHost("minio:80", "http"), "minio");
    assert.equal(normalizeHost("minio:80", "https"), "minio:80");
    assert.equal(normalizeHost("127.0.0.1:4568", "http"), "127.0.0.1:4568");
    assert.equal(normalizeHost("LOCALHOST:9000", "http"), "localhost:9000");
    assert.equal(normalizeHost("[::1]:9000", "http"), "[::1]:9000");
    assert.equal(normalizeHost("s3.example.com", "https"), "s3.example.com");
  });

  test("normalizeHost refuses schemes, paths, credentials, queries and bad ports", () => {
    for (
      const host of [
        "https://s3.example.com",
        "http://s3.example.com",
        "s3.example.com/",
        "s3.example.com/bucket",
        "user@s3.example.com",
        "user:pw@s3.example.com",
        "s3.example.com?x=1",
        "s3.example.com#x",
        "s3 example.com",
        "s3.example.com\\x",
        "s3.example.com:http",
        "s3.example.com:70000",
        ":9000",
        "",
      ]
    ) {
      assert.equal(normalizeHost(host, "https"), undefined, JSON.stringify(host));
    }
  });

  test("AWS_ENDPOINT_HOST is normalised, and AWS_ENDPOINT_HOST_EXTERNAL defaults to it", () => {
    const config = ok(parseConfig({ AWS_ENDPOINT_HOST: "MinIO.Local:443" }));
    assert.equal(config.endpointHost, "minio.local");
    assert.equal(config.externalHost, "minio.local");
  });

  test("the default port is dropped for the configured scheme", () => {
    const config = ok(parseConfig({
      AWS_ENDPOINT_SCHEME: "http",
      AWS_ENDPOINT_HOST: "minio:80",
      AWS_ENDPOINT_HOST_EXTERNAL: "Files.Example.com:80",
    }));
    assert.equal(config.scheme, "http");
    assert.equal(config.endpointHost, "minio");
    assert.equal(config.externalHost, "files.example.com");
  });

  test("AWS_ENDPOINT_HOST_EXTERNAL is kept apart from AWS_ENDPOINT_HOST", () => {
    const config = ok(parseConfig({
      AWS_ENDPOINT_HOST: "127.0.0.1:9000",
      AWS_ENDPOINT_HOST_EXTERNAL: "files.example.com:9000",
    }));
    assert.equal(config.endpointHost, "127.0.0.1:9000");
    assert.equal(config.externalHost, "files.example.com:9000");
  });

  test("a URL or path in a host variable is an error naming it", () => {
    assertOneError(
      { AWS_ENDPOINT_HOST: "https://s3.example.com" },
      "AWS_ENDPOINT_HOST",
      "https://s3.example.com",
    );
    assertOneError(
      { AWS_ENDPOINT_HOST_EXTERNAL: "files.example.com/x" },
      "AWS_ENDPOINT_HOST_EXTERNAL",
      "files.example.com/x",
    );
  });

  test("AWS_ENDPOINT_SCHEME is https or http, any case", () => {
    assert.equal(ok(parseConfig({ AWS_ENDPOINT_SCHEME: "HTTP" })).scheme, "http");
    assert.equal(ok(parseConfig({ AWS_ENDPOINT_SCHEME: "https" })).scheme, "https");
    assertOneError({ AWS_ENDPOINT_SCHEME: "ftp" }, "AWS_ENDPOINT_SCHEME", "ftp");
  });
});

describe("each variable", () => {
  test("S3_BUCKET: a bucket name; a DNS name in virtual style", () => {
    assert.equal(ok(parseConfig({ S3_BUCKET: "my_site" })).bucket, "my_site");
    assert.equal(
      ok(parseConfig({ S3_BUCKET: "my-site", S3_ADDRESSING_STYLE: "virtual" })).bucket,
      "my-site",
    );
    assertOneError({ S3_BUCKET: "a/b" }, "S3_BUCKET", "a/b");
    assertOneError({ S3_BUCKET: ".." }, "S3_BUCKET", "..");
    assertOneError(
      { S3_BUCKET: "My_Site", S3_ADDRESSING_STYLE: "virtual" },
      "S3_BUCKET",
      "My_Site",
    );
  });

  test("S3_ADDRESSING_STYLE: path or virtual", () => {
    assert.equal(
      ok(parseConfig({ S3_ADDRESSING_STYLE: "VIRTUAL" })).addressingStyle,
      "virtual",
    );
    assertOneError({ S3_ADDRESSING_STYLE: "vhost" }, "S3_ADDRESSING_STYLE", "vhost");
  });

  test("PRESIGN_EXPIRES: a whole number from 1 to 604800", () => {
    assert.equal(ok(parseConfig({ PRESIGN_EXPIRES: "1" })).presignExpires, 1);
    assert.equal(ok(parseConfig({ PRESIGN_EXPIRES: "604800" })).presignExpires, 604800);
    assert.equal(ok(parseConfig({ PRESIGN_EXPIRES: "60" })).presignExpires, 60);
    for (const bad of ["0", "604801", "-5", "1.5", "5m", "abc", "1e3", "0x10"]) {
      assertOneError({ PRESIGN_EXPIRES: bad }, "PRESIGN_EXPIRES", bad);
    }
  });

  test("PROXY_PATTERN: a regular expression", () => {
    const config = ok(parseConfig({ PROXY_PATTERN: "\\.(html|xml)$" }));
    assert.equal(config.proxyPattern.test("a/b.xml"), true);
    assert.equal(config.proxyPattern.test("a/b.png"), false);
    assertOneError({ PROXY_PATTERN: "(unclosed" }, "PROXY_PATTERN", "(unclosed");
    assertOneError({ PROXY_PATTERN: "[z-a]" }, "PROXY_PATTERN", "[z-a]");
  });

  test("PORT: 0 to 65535", () => {
    assert.equal(ok(parseConfig({ PORT: "0" })).port, 0);
    assert.equal(ok(parseConfig({ PORT: "65535" })).port, 65535);
    for (const bad of ["65536", "-1", "http", "80.5", "8o80"]) {
      assertOneError({ PORT: bad }, "PORT", bad);
    }
  });

  test("HOST: taken as given", () => {
    assert.equal(ok(parseConfig({ HOST: "127.0.0.1" })).hostname, "127.0.0.1");
    assert.equal(ok(parseConfig({ HOST: "::" })).hostname, "::");
  });

  test("UPSTREAM_TIMEOUT: seconds, fractions allowed, converted to milliseconds", () => {
    assert.equal(ok(parseConfig({ UPSTREAM_TIMEOUT: "0.05" })).upstreamTimeoutMs, 50);
    assert.equal(ok(parseConfig({ UPSTREAM_TIMEOUT: "5" })).upstreamTimeoutMs, 5000);
    assert.equal(ok(parseConfig({ UPSTREAM_TIMEOUT: "3600" })).upstreamTimeoutMs, 3_600_000);
    for (const bad of ["0", "0.0", "-1", "abc", "3601", "1e3", "5s", ".5"]) {
      assertOneError({ UPSTREAM_TIMEOUT: bad }, "UPSTREAM_TIMEOUT", bad);
    }
  });

  test("UPSTREAM_TIMEOUT: an accepted value never becomes a timeout of 0 ms", () => {
    const result = parseConfig({ UPSTREAM_TIMEOUT: "0.0001" });
    if (result.ok) assert.ok(result.config.upstreamTimeoutMs >= 1, "timeout rounded to 0 ms");
    else assert.ok(result.errors.some((e) => e.includes("UPSTREAM_TIMEOUT")));
  });

  test("REDIRECT: auto, always or never, any case", () => {
    assert.equal(ok(parseConfig({ REDIRECT: "always" })).redirect, "always");
    assert.equal(ok(parseConfig({ REDIRECT: "Never" })).redirect, "never");
    assert.equal(ok(parseConfig({ REDIRECT: "AUTO" })).redirect, "auto");
    assertOneError({ REDIRECT: "sometimes" }, "REDIRECT", "sometimes");
  });

  test("S3_LIST_BUCKETS and LISTING: true/false, 1/0, yes/no, on/off", () => {
    for (const yes of ["true", "TRUE", "1", "yes", "on"]) {
      assert.equal(ok(parseConfig({ S3_LIST_BUCKETS: yes })).listBuckets, true, yes);
      assert.equal(ok(parseConfig({ LISTING: yes })).listing, true, yes);
    }
    for (const no of ["false", "False", "0", "no", "off"]) {
      assert.equal(ok(parseConfig({ S3_LIST_BUCKETS: no })).listBuckets, false, no);
      assert.equal(ok(parseConfig({ LISTING: no })).listing, false, no);
    }
    assertOneError({ S3_LIST_BUCKETS: "maybe" }, "S3_LIST_BUCKETS", "maybe");
    assertOneError({ LISTING: "2" }, "LISTING", "2");
  });
});

describe("all problems at once", () => {
  test("every bad variable is reported in one result, each named", () => {
    const env = {
      AWS_REGION: "Not A Region",
      AWS_ENDPOINT_SCHEME: "gopher",
      AWS_ENDPOINT_HOST: "https://s3.example.com/",
      AWS_ENDPOINT_HOST_EXTERNAL: "user@files",
      S3_ADDRESSING_STYLE: "sideways",
      S3_BUCKET: "bad/bucket",
      PRESIGN_EXPIRES: "0",
      PROXY_PATTERN: "(",
      PORT: "99999",
      UPSTREAM_TIMEOUT: "never",
      REDIRECT: "sometimes",
      S3_LIST_BUCKETS: "perhaps",
      LISTING: "maybe",
    };
    const errs = errors(parseConfig(env));
    const names = [
      "AWS_REGION",
      "AWS_ENDPOINT_SCHEME",
      "AWS_ENDPOINT_HOST",
      "AWS_ENDPOINT_HOST_EXTERNAL",
      "S3_ADDRESSING_STYLE",
      "S3_BUCKET",
      "PRESIGN_EXPIRES",
      "PROXY_PATTERN",
      "PORT",
      "UPSTREAM_TIMEOUT",
      "REDIRECT",
      "S3_LIST_BUCKETS",
      "LISTING",
    ];
    for (const name of names) {
      const value = env[name as keyof typeof env];
      assert.ok(
        errs.some((e) => e.startsWith(name) && e.includes(value)),
        `${name}=${value} missing from: ${errs.join(" | ")}`,
      );
    }
    assert.equal(errs.length, names.length, errs.join(" | "));
  });

  test("credentials are not config's business: a config parses without them", () => {
    assert.equal(ok(parseConfig({ S3_BUCKET: "site" })).bucket, "site");
  });
});
