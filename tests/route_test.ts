/**
 * src/route.ts: the pure decision for a raw request. Method check on every route, sub-resources
 * refused, listing and object parameters filtered, proxy pattern, REDIRECT modes, client
 * detection, S3_BUCKET confinement, ListBuckets, bucket-level and folder routes, bad input.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { type Config, parseConfig } from "../src/config.ts";
import { ALLOW, classifyClient, decide, type Decision, type Route } from "../src/route.ts";

const H = "http://proxy.test:8080";

function cfg(env: Record<string, string> = {}): Config {
  const result = parseConfig(env);
  if (!result.ok) assert.fail(result.errors.join("; "));
  return result.config;
}

const PATH = cfg();
const SITE = cfg({ S3_BUCKET: "site" });

const CURL = { "user-agent": "curl/8.5.0", accept: "*/*" };
const CHROME = {
  "user-agent":
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
  accept: "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
};
const FIREFOX = {
  "user-agent": "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
  accept: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
};
const AWSCLI = {
  "user-agent":
    "aws-cli/2.15.30 Python/3.11.8 Linux/6.1.0-18-amd64 exe/x86_64.debian.12 prompt/off command/s3.cp",
};

function route(
  method: string,
  path: string,
  config: Config = PATH,
  headers: Record<string, string> = CURL,
): Route {
  return decide(method, H + path, new Headers(headers), config).route;
}

function decision(
  method: string,
  path: string,
  config: Config = PATH,
  headers: Record<string, string> = CURL,
): Decision {
  return decide(method, H + path, new Headers(headers), config);
}

function assertReject(r: Route, status: number, label: string): Extract<Route, { kind: "reject" }> {
  assert.equal(r.kind, "reject", `${label}: ${JSON.stringify(r)}`);
  if (r.kind !== "reject") throw new Error("unreachable");
  assert.equal(r.status, status, `${label}: ${JSON.stringify(r)}`);
  assert.ok(r.message.length > 0, `${label}: a message says why`);
  return r;
}

function assertObject(r: Route, label: string): Extract<Route, { kind: "object" }> {
  assert.equal(r.kind, "object", `${label}: ${JSON.stringify(r)}`);
  if (r.kind !== "object") throw new Error("unreachable");
  return r;
}

/** Every query name a route sends upstream. */
function upstreamQueryNames(r: Route): string[] {
  if (r.kind === "bucket" || r.kind === "object" || r.kind === "folder") {
    return r.query.map(([name]) => name);
  }
  return [];
}

describe("method check on every route", () => {
  const paths = [
    "/",
    "/bucket",
    "/bucket/",
    "/bucket/index.html",
    "/bucket/dir/index.html",
    "/bucket/dir/",
    "/bucket/file.bin",
    "/bucket?list-type=2",
    "/bucket/file.bin?versionId=1",
    "/bucket/file.bin?acl",
    "/bucket?location",
    "/bucket?uploads",
  ];
  const methods = ["PUT", "POST", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND", "CONNECT"];

  for (const [label, config] of [["path mode", PATH], ["S3_BUCKET mode", SITE]] as const) {
    test(`405 with Allow: ${ALLOW} in ${label}, for every client`, () => {
      for (const headers of [CURL, CHROME, AWSCLI]) {
        for (const method of methods) {
          for (const path of paths) {
            const r = assertReject(route(method, path, config, headers), 405, `${method} ${path}`);
            assert.equal(r.headers?.allow, "GET, HEAD", `${method} ${path}`);
          }
        }
      }
    });
  }

  test("405 also with ListBuckets on, REDIRECT=never and a matching PROXY_PATTERN", () => {
    for (
      const config of [
        cfg({ S3_LIST_BUCKETS: "true" }),
        cfg({ REDIRECT: "never" }),
        cfg({ PROXY_PATTERN: ".*" }),
      ]
    ) {
      for (const method of ["PUT", "POST", "DELETE", "PATCH"]) {
        for (const path of ["/", "/bucket/index.html", "/bucket/a.txt", "/bucket"]) {
          const r = assertReject(route(method, path, config), 405, `${method} ${path}`);
          assert.equal(r.headers?.allow, ALLOW);
        }
      }
    }
  });

  test("GET and HEAD are not refused by the method check", () => {
    for (const method of ["GET", "HEAD"]) {
      assert.notEqual(route(method, "/bucket/index.html").kind, "reject");
      assert.notEqual(route(method, "/bucket/a.txt").kind, "reject");
    }
  });

  test("a write with a target that cannot be decoded is refused too, never routed", () => {
    for (const path of ["/bucket/%C3", "/bucket/a%00", "/bucket/k?x=%zz"]) {
      const r = route("PUT", path);
      assert.equal(r.kind, "reject", path);
      if (r.kind === "reject") assert.ok(r.status === 400 || r.status === 405, path);
    }
  });
});

describe("sub-resources", () => {
  const names = [
    "acl",
    "policy",
    "tagging",
    "uploads",
    "versions",
    "cors",
    "lifecycle",
    "website",
    "versioning",
    "logging",
    "notification",
    "replication",
    "encryption",
    "torrent",
    "restore",
    "select",
    "attributes",
    "uploadId",
    "legal-hold",
    "retention",
    "object-lock",
    "delete",
    "policyStatus",
    "publicAccessBlock",
  ];

  test("403 on bucket and object, GET and HEAD, path and S3_BUCKET mode, every client", () => {
    for (const name of names) {
      for (const method of ["GET", "HEAD"]) {
        for (const headers of [CURL, CHROME, AWSCLI]) {
          for (
            const path of [
              `/bucket?${name}`,
              `/bucket/?${name}=`,
              `/bucket/dir/file.txt?${name}`,
              `/bucket/index.html?${name}=x`,
              `/bucket/dir/?${name}`,
              `/bucket?list-type=2&${name}`,
              `/bucket/k?versionId=1&${name}`,
            ]
          ) {
            const r = assertReject(route(method, path, PATH, headers), 403, `${method} ${path}`);
            assert.ok(r.message.includes(name), `the message names ${name}: ${r.message}`);
          }
          for (const path of [`/?${name}`, `/dir/file.txt?${name}`, `/index.html?${name}`]) {
            assertReject(route(method, path, SITE, headers), 403, `S3_BUCKET ${method} ${path}`);
          }
        }
      }
    }
  });

  test("an escaped sub-resource name is still a sub-resource", () => {
    assertReject(route("GET", "/bucket/k?%61cl"), 403, "%61cl");
    assertReject(route("GET", "/bucket?p%6Flicy"), 403, "p%6Flicy");
  });

  test("no spelling of a query sends a sub-resource name upstream, in any case", () => {
    const lower = new Set(names.map((n) => n.toLowerCase()));
    for (const name of names) {
      for (const spelled of [name.toUpperCase(), name[0].toUpperCase() + name.slice(1)]) {
        for (
          const path of [`/bucket?${spelled}`, `/bucket/k?${spelled}`, `/bucket/k?x&${spelled}=1`]
        ) {
          for (const headers of [CURL, AWSCLI]) {
            const r = route("GET", path, PATH, headers);
            for (const sent of upstreamQueryNames(r)) {
              assert.ok(!lower.has(sent.toLowerCase()), `${path} sends ${sent} upstream`);
            }
          }
        }
      }
    }
  });
});

describe("listing parameters", () => {
  test("ListObjects V2 parameters are forwarded, unknown ones dropped", () => {
    const r = route(
      "GET",
      "/bucket?list-type=2&prefix=a+b%2F&delimiter=%2F&continuation-token=tok%3D%3D&start-after=s" +
        "&max-keys=10&encoding-type=url&fetch-owner=true&foo=bar&x-id=ListObjectsV2&X-Amz-Date=1",
      PATH,
      AWSCLI,
    );
    assert.deepEqual(r, {
      kind: "bucket",
      bucket: "bucket",
      query: [
        ["list-type", "2"],
        ["prefix", "a b/"],
        ["delimiter", "/"],
        ["continuation-token", "tok=="],
        ["start-after", "s"],
        ["max-keys", "10"],
        ["encoding-type", "url"],
        ["fetch-owner", "true"],
      ],
    });
  });

  test("ListObjects V1 parameters are forwarded", () => {
    const r = route("GET", "/bucket/?prefix=dir%2F&marker=dir%2Fa&delimiter=/&max-keys=1000", PATH);
    assert.deepEqual(r, {
      kind: "bucket",
      bucket: "bucket",
      query: [["prefix", "dir/"], ["marker", "dir/a"], ["delimiter", "/"], ["max-keys", "1000"]],
    });
  });

  test("an API client's bare GET /bucket is a listing with no parameters", () => {
    assert.deepEqual(route("GET", "/bucket", PATH, AWSCLI), {
      kind: "bucket",
      bucket: "bucket",
      query: [],
    });
  });

  test("in S3_BUCKET mode, / with a listing query lists the configured bucket", () => {
    assert.deepEqual(route("GET", "/?list-type=2&prefix=x&acl2=1", SITE, AWSCLI), {
      kind: "bucket",
      bucket: "site",
      query: [["list-type", "2"], ["prefix", "x"]],
    });
  });

  test("LISTING=off refuses listings with a 403", () => {
    const off = cfg({ LISTING: "off" });
    assertReject(route("GET", "/bucket?list-type=2", off, AWSCLI), 403, "LISTING=off");
    assertReject(route("GET", "/bucket", off, AWSCLI), 403, "LISTING=off, API client");
  });
});

describe("object parameters", () => {
  test("versionId, partNumber and response-* are kept; x-id, X-Amz-* and others dropped", () => {
    for (const headers of [CURL, AWSCLI]) {
      const r = assertObject(
        route(
          "GET",
          "/bucket/dir/file.bin?versionId=v%2B1&partNumber=2&response-content-type=text%2Fplain" +
            "&response-content-disposition=attachment%3B%20filename%3D%22a%20b.txt%22" +
            "&response-cache-control=no-cache&response-expires=0&response-content-language=fr" +
            "&response-content-encoding=gzip&x-id=GetObject&X-Amz-Date=20240101T000000Z" +
            "&X-Amz-Signature=abc&X-Amz-Credential=AKID&X-Amz-Security-Token=tok&foo=bar" +
            "&prefix=p&list-type=2&location",
          PATH,
          headers,
        ),
        "object params",
      );
      assert.deepEqual(r.query, [
        ["versionId", "v+1"],
        ["partNumber", "2"],
        ["response-content-type", "text/plain"],
        ["response-content-disposition", 'attachment; filename="a b.txt"'],
        ["response-cache-control", "no-cache"],
        ["response-expires", "0"],
        ["response-content-language", "fr"],
        ["response-content-encoding", "gzip"],
      ]);
    }
  });

  test("a redirect carries the same parameters", () => {
    const r = assertObject(
      route("GET", "/bucket/a.bin?versionId=3&x-foo=1&response-content-type=a", PATH, CHROME),
      "redirect",
    );
    assert.equal(r.mode, "redirect");
    assert.deepEqual(r.query, [["versionId", "3"], ["response-content-type", "a"]]);
  });

  test("on our own origin, a browser or curl cannot choose the type of a streamed object", () => {
    const target = "/bucket/notes.txt?response-content-type=text%2Fhtml&versionId=3";
    const never = cfg({ REDIRECT: "never" });
    for (const headers of [CHROME, CURL]) {
      for (
        const [path, config] of [[target, never], [
          target.replace("notes.txt", "index.html"),
          PATH,
        ]] as const
      ) {
        const r = assertObject(route("GET", path, config, headers), path);
        assert.equal(r.mode, "proxy");
        assert.deepEqual(r.query, [["versionId", "3"]], path);
      }
    }
    // S3 API clients stream too, on S3's terms: the parameter is theirs to use.
    const api = assertObject(route("GET", target, PATH, AWSCLI), "api");
    assert.equal(api.mode, "proxy");
    assert.deepEqual(api.query, [["response-content-type", "text/html"], ["versionId", "3"]]);
  });
});

describe("PROXY_PATTERN and REDIRECT", () => {
  test("the default pattern streams index.html only as the last segment", () => {
    for (const headers of [CURL, CHROME, FIREFOX]) {
      for (
        const path of ["/bucket/index.html", "/bucket/dir/index.html", "/bucket/a/b/index.html"]
      ) {
        assert.equal(assertObject(route("GET", path, PATH, headers), path).mode, "proxy", path);
        assert.equal(assertObject(route("HEAD", path, PATH, headers), path).mode, "proxy", path);
      }
      for (
        const path of [
          "/bucket/xindex.html",
          "/bucket/dir/xindex.html",
          "/bucket/index.html/x",
          "/bucket/index.html.gz",
          "/bucket/index.htm",
          "/bucket/a.txt",
        ]
      ) {
        assert.equal(assertObject(route("GET", path, PATH, headers), path).mode, "redirect", path);
      }
    }
  });

  test("the pattern is tested against the decoded key", () => {
    assert.equal(assertObject(route("GET", "/bucket/dir/%69ndex.html"), "%69").mode, "proxy");
    assert.equal(assertObject(route("GET", "/bucket/dir%2Findex.html"), "%2F").mode, "proxy");
  });

  test("a custom pattern", () => {
    const config = cfg({ PROXY_PATTERN: "\\.(html|css)$" });
    assert.equal(assertObject(route("GET", "/bucket/a/b.css", config), "css").mode, "proxy");
    assert.equal(assertObject(route("GET", "/bucket/a/b.png", config), "png").mode, "redirect");
  });

  test("REDIRECT=auto: API clients are streamed, browsers and curl redirected", () => {
    assert.equal(assertObject(route("GET", "/bucket/a.bin", PATH, AWSCLI), "cli").mode, "proxy");
    assert.equal(assertObject(route("HEAD", "/bucket/a.bin", PATH, AWSCLI), "cli").mode, "proxy");
    assert.equal(assertObject(route("GET", "/bucket/a.bin", PATH, CURL), "curl").mode, "redirect");
    assert.equal(assertObject(route("GET", "/bucket/a.bin", PATH, CHROME), "ch").mode, "redirect");
    assert.equal(
      assertObject(route("HEAD", "/bucket/a.bin", PATH, FIREFOX), "ff").mode,
      "redirect",
    );
  });

  test("REDIRECT=always redirects API clients too, but index.html is still streamed", () => {
    const config = cfg({ REDIRECT: "always" });
    for (const headers of [AWSCLI, CURL, CHROME]) {
      assert.equal(
        assertObject(route("GET", "/bucket/a.bin", config, headers), "a").mode,
        "redirect",
      );
      assert.equal(
        assertObject(route("GET", "/bucket/index.html", config, headers), "i").mode,
        "proxy",
      );
    }
  });

  test("REDIRECT=never streams everything", () => {
    const config = cfg({ REDIRECT: "never" });
    for (const headers of [AWSCLI, CURL, CHROME]) {
      for (const method of ["GET", "HEAD"]) {
        assert.equal(
          assertObject(route(method, "/bucket/a.bin", config, headers), "never").mode,
          "proxy",
        );
      }
    }
  });
});

describe("client detection", () => {
  const apiAgents = [
    AWSCLI["user-agent"],
    "aws-cli/1.29.62 md/Botocore#1.31.62 ua/2.0 os/linux#6.1.0-18-amd64 md/arch#x86_64 " +
    "lang/python#3.11.2 md/pyimpl#CPython cfg/retry-mode#legacy botocore/1.31.62",
    "Botocore/1.34.0 ua/2.0 os/linux#6.1.0 md/arch#x86_64 lang/python#3.11.2 md/pyimpl#CPython",
    "Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#6.1.0 md/arch#x86_64 lang/python#3.11.2 " +
    "md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.0",
    "aws-sdk-js/3.500.0 ua/2.0 os/linux#6.1.0 lang/js md/nodejs#20.11.0 api/s3#3.500.0",
    "aws-sdk-nodejs/2.1500.0 linux/v20.11.0 exec-env/AWS_Lambda_nodejs20.x",
    "aws-sdk-go/1.50.0 (go1.21.5; linux; amd64)",
    "aws-sdk-go-v2/1.24.0 os/linux lang/go#1.21.5 md/GOOS#linux md/GOARCH#amd64 api/s3#1.48.0",
    "aws-sdk-java/2.21.0 Linux/6.1.0 OpenJDK_64-Bit_Server_VM/17.0.9+9 Java/17.0.9",
    "aws-sdk-rust/1.1.1 os/linux lang/rust/1.74.0",
    "rclone/v1.60.1-DEV",
    "rclone/v1.65.0",
    "MinIO (linux; amd64) minio-go/v7.0.66 mc/RELEASE.2024-01-11T05-49-32Z",
    "MinIO (Linux; x86_64) minio-py/7.2.0",
    "s3cmd/2.3.0",
    "S3cmd/2.4.0",
  ];
  const plainAgents = [
    "curl/8.5.0",
    "curl/7.88.1",
    "Wget/1.21.3",
    "python-requests/2.31.0",
    "Go-http-client/1.1",
    CHROME["user-agent"],
    FIREFOX["user-agent"],
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) " +
    "Version/17.2 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) " +
    "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) " +
    "Chrome/120.0.6099.144 Mobile Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like " +
    "Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
    "",
  ];

  test("SDK and CLI user agents are API clients", () => {
    for (const agent of apiAgents) {
      const [kind, reason] = classifyClient(new Headers({ "user-agent": agent }), []);
      assert.equal(kind, "api", agent);
      assert.equal(reason, "user-agent", agent);
      assert.equal(
        assertObject(route("GET", "/bucket/big.iso", PATH, { "user-agent": agent }), agent).mode,
        "proxy",
        agent,
      );
    }
  });

  test("curl, wget and browsers are not API clients, and get redirects", () => {
    for (const agent of plainAgents) {
      for (const accept of ["*/*", "text/html,application/xhtml+xml,*/*;q=0.8"]) {
        const headers = { "user-agent": agent, accept };
        const [kind] = classifyClient(new Headers(headers), []);
        assert.notEqual(kind, "api", agent);
        assert.equal(
          assertObject(route("GET", "/bucket/big.iso", PATH, headers), agent).mode,
          "redirect",
        );
      }
    }
  });

  test("a browser's Accept makes it a browser; curl's makes it a plain HTTP client", () => {
    assert.equal(classifyClient(new Headers(CHROME), [])[0], "browser");
    assert.equal(classifyClient(new Headers(FIREFOX), [])[0], "browser");
    assert.equal(classifyClient(new Headers(CURL), [])[0], "http");
    assert.equal(classifyClient(new Headers(), [])[0], "http");
  });

  test("amz-sdk-* headers mark an API client", () => {
    for (const name of ["amz-sdk-invocation-id", "amz-sdk-request"]) {
      const headers = { ...CURL, [name]: "f81d4fae-7dec-11d0-a765-00a0c91e6bf6" };
      const [kind, reason] = classifyClient(new Headers(headers), []);
      assert.deepEqual([kind, reason], ["api", "amz-sdk-header"], name);
      assert.equal(assertObject(route("GET", "/bucket/a.bin", PATH, headers), name).mode, "proxy");
    }
  });

  test("x-amz-* headers mark an API client", () => {
    for (
      const [name, value] of [
        ["x-amz-content-sha256", "UNSIGNED-PAYLOAD"],
        ["X-Amz-Date", "20240101T000000Z"],
        ["x-amz-security-token", "tok"],
      ]
    ) {
      const headers = { ...CHROME, [name]: value };
      assert.deepEqual(classifyClient(new Headers(headers), []), ["api", "x-amz-header"], name);
      assert.equal(assertObject(route("GET", "/bucket/a.bin", PATH, headers), name).mode, "proxy");
    }
  });

  test("an AWS Authorization marks an API client; other schemes do not", () => {
    const v4 = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/s3/aws4_request, " +
      "SignedHeaders=host;x-amz-date, Signature=" + "0".repeat(64);
    assert.deepEqual(
      classifyClient(new Headers({ ...CURL, authorization: v4 }), []),
      ["api", "authorization"],
    );
    assert.deepEqual(
      classifyClient(new Headers({ ...CURL, authorization: "AWS AKID:c2lnbmF0dXJl" }), []),
      ["api", "authorization"],
    );
    for (const other of ["Bearer abc", "Basic dXNlcjpwYXNz"]) {
      assert.notEqual(classifyClient(new Headers({ ...CURL, authorization: other }), [])[0], "api");
    }
  });

  test("S3 API query shapes mark an API client", () => {
    assert.deepEqual(classifyClient(new Headers(CURL), [["x-id", "GetObject"]]), ["api", "query"]);
    assert.deepEqual(
      classifyClient(new Headers(CURL), [["X-Amz-Credential", "AKID/..."]]),
      ["api", "query"],
    );
    assert.equal(
      assertObject(route("GET", "/bucket/a.bin?x-id=GetObject", PATH, CURL), "x-id").mode,
      "proxy",
    );
    assert.equal(classifyClient(new Headers(CURL), [["versionId", "1"]])[0], "http");
  });

  test("the decision says why a client was classified", () => {
    const d = decision("GET", "/bucket/a.bin", PATH, AWSCLI);
    assert.equal(d.client, "api");
    assert.equal(d.clientReason, "user-agent");
    const c = decision("GET", "/bucket/a.bin", PATH, CURL);
    assert.equal(c.client, "http");
    assert.ok(c.clientReason.length > 0);
  });
});

describe("S3_BUCKET mode", () => {
  test("the first path segment is part of the key, not a bucket", () => {
    const r = assertObject(route("GET", "/other-bucket/x", SITE), "other-bucket");
    assert.equal(r.bucket, "site");
    assert.equal(r.key, "other-bucket/x");
  });

  test("no spelling reaches another bucket", () => {
    const spellings = [
      "/other-bucket/x",
      "/%2F..%2Fother/x",
      "/%2f..%2fother/x",
      "/..%2Fother/x",
      "/../other/x",
      "/%2e%2e/other/x",
      "/%2E%2E/other/x",
      "/.%2e/other/x",
      "/a/../../other/x",
      "/../../../other/x",
      "//other/x",
      "/%2Fother/x",
      "/./other/x",
      "/other/x/..",
      "/other%2Fx",
      "/%2e%2e%2fother%2fx",
      "/..\\other/x",
      "/%5C..%5Cother/x",
    ];
    for (const spelling of spellings) {
      for (const method of ["GET", "HEAD"]) {
        for (const headers of [CURL, CHROME, AWSCLI]) {
          const r = route(method, spelling, SITE, headers);
          if (r.kind === "reject") {
            assert.equal(r.status, 400, `${spelling}: ${JSON.stringify(r)}`);
            continue;
          }
          assert.ok(
            r.kind === "object" || r.kind === "bucket" || r.kind === "folder",
            `${spelling}: ${JSON.stringify(r)}`,
          );
          assert.equal(r.bucket, "site", `${spelling}: ${JSON.stringify(r)}`);
          if (r.kind === "object") {
            assert.ok(
              !r.key.split("/").some((s) => s === ".." || s === "."),
              `${spelling}: key ${r.key}`,
            );
          }
        }
      }
    }
  });

  test("dot segments resolve inside the configured bucket", () => {
    assert.equal(assertObject(route("GET", "/../other/x", SITE), "..").key, "other/x");
    assert.equal(assertObject(route("GET", "/%2e%2e/other/x", SITE), "%2e").key, "other/x");
    assertReject(route("GET", "/%2F..%2Fother/x", SITE), 400, "%2F..%2F");
  });

  test("GET / never lists buckets in S3_BUCKET mode, even with S3_LIST_BUCKETS=true", () => {
    const config = cfg({ S3_BUCKET: "site", S3_LIST_BUCKETS: "true" });
    for (const headers of [CURL, AWSCLI, CHROME]) {
      const r = route("GET", "/", config, headers);
      assert.notEqual(r.kind, "list-buckets");
      assert.ok(r.kind === "bucket" || r.kind === "folder", JSON.stringify(r));
      assert.equal(r.bucket, "site");
    }
  });

  test("the key is the whole path: /dir/file is key dir/file", () => {
    const r = assertObject(route("GET", "/dir/a%20b+c.txt", SITE, AWSCLI), "key");
    assert.deepEqual([r.bucket, r.key], ["site", "dir/a b+c.txt"]);
  });
});

describe("ListBuckets", () => {
  test("GET / and HEAD / are 403 unless S3_LIST_BUCKETS=true", () => {
    for (const method of ["GET", "HEAD"]) {
      for (const headers of [CURL, AWSCLI, CHROME]) {
        assertReject(route(method, "/", PATH, headers), 403, `${method} /`);
        assertReject(route(method, "/?list-type=2", PATH, headers), 403, `${method} /?list-type=2`);
      }
    }
  });

  test("with S3_LIST_BUCKETS=true, GET / lists buckets", () => {
    const config = cfg({ S3_LIST_BUCKETS: "true" });
    assert.deepEqual(route("GET", "/", config, AWSCLI), { kind: "list-buckets" });
  });

  test("an empty bucket segment is not a ListBuckets request", () => {
    const config = cfg({ S3_LIST_BUCKETS: "true" });
    for (const path of ["//x", "//", "//bucket/key", "//?list-type=2"]) {
      const r = route("GET", path, config, AWSCLI);
      assert.notEqual(r.kind, "list-buckets", `${path}: ${JSON.stringify(r)}`);
    }
  });
});

describe("bucket-level and folder routes", () => {
  test("HEAD /bucket and HEAD /bucket/ are HeadBucket", () => {
    for (const path of ["/bucket", "/bucket/"]) {
      for (const headers of [CURL, AWSCLI, CHROME]) {
        assert.deepEqual(route("HEAD", path, PATH, headers), {
          kind: "bucket",
          bucket: "bucket",
          query: [],
        }, path);
      }
    }
    assert.deepEqual(route("HEAD", "/", SITE, AWSCLI), {
      kind: "bucket",
      bucket: "site",
      query: [],
    });
  });

  test("?location is GetBucketLocation, with only location sent", () => {
    for (const method of ["GET", "HEAD"]) {
      for (const path of ["/bucket?location", "/bucket/?location=", "/bucket?location&prefix=x"]) {
        assert.deepEqual(route(method, path, PATH, AWSCLI), {
          kind: "bucket",
          bucket: "bucket",
          query: [["location", ""]],
        }, `${method} ${path}`);
      }
    }
    assert.deepEqual(route("GET", "/?location", SITE, AWSCLI), {
      kind: "bucket",
      bucket: "site",
      query: [["location", ""]],
    });
  });

  test("a browser's GET of /bucket, /bucket/ and /bucket/dir/ is a folder", () => {
    for (const headers of [CHROME, FIREFOX]) {
      for (const [path, prefix] of [["/bucket", ""], ["/bucket/", ""], ["/bucket/dir/", "dir/"]]) {
        const r = route("GET", path, PATH, headers);
        assert.equal(r.kind, "folder", `${path}: ${JSON.stringify(r)}`);
        if (r.kind === "folder") assert.deepEqual([r.bucket, r.prefix], ["bucket", prefix]);
      }
      const r = route("GET", "/a%20dir/sub/", SITE, headers);
      assert.equal(r.kind, "folder", JSON.stringify(r));
      if (r.kind === "folder") assert.deepEqual([r.bucket, r.prefix], ["site", "a dir/sub/"]);
    }
  });

  test("curl's GET of /bucket/dir/ is a folder too; of /bucket, an XML listing", () => {
    const r = route("GET", "/bucket/dir/", PATH, CURL);
    assert.equal(r.kind, "folder");
    assert.deepEqual(route("GET", "/bucket", PATH, CURL), {
      kind: "bucket",
      bucket: "bucket",
      query: [],
    });
  });

  test("an API client's GET of dir/ is the object dir/", () => {
    for (const method of ["GET", "HEAD"]) {
      const r = assertObject(route(method, "/bucket/dir/", PATH, AWSCLI), "dir/");
      assert.deepEqual([r.bucket, r.key, r.mode], ["bucket", "dir/", "proxy"]);
    }
    const s = assertObject(route("GET", "/dir/", SITE, AWSCLI), "site dir/");
    assert.deepEqual([s.bucket, s.key], ["site", "dir/"]);
  });
});

describe("bad input is a 400, decided here", () => {
  test("bad escapes, invalid UTF-8, NUL and decoded dot segments in the key", () => {
    for (
      const path of [
        "/bucket/%C3",
        "/bucket/foo%C3",
        "/bucket/%",
        "/bucket/a%G0",
        "/bucket/%C0%AF",
        "/bucket/%ED%A0%80",
        "/bucket/a%00b",
        "/bucket/a%2F..%2Fb",
        "/bucket/%2F..%2Fx",
        "/bucket/k?prefix=%C3",
        "/bucket/k?a=%00",
        "/bucket/a#b",
      ]
    ) {
      for (const config of [PATH, SITE]) {
        assertReject(route("GET", path, config), 400, path);
        assertReject(route("HEAD", path, config), 400, path);
      }
    }
  });

  test("bad bucket names", () => {
    for (
      const path of ["/%C3/x", "/a%20b/x", "/a%2Fb/x", "/-bucket/x", "/a%00/x"]
    ) {
      assertReject(route("GET", path), 400, path);
    }
  });

  test("virtual addressing refuses bucket names that are not DNS names", () => {
    const config = cfg({ S3_ADDRESSING_STYLE: "virtual" });
    assertReject(route("GET", "/My_Bucket/x", config), 400, "My_Bucket");
    assert.equal(assertObject(route("GET", "/my-bucket/x", config), "dns").bucket, "my-bucket");
  });
});

describe("every spelling of a key reaches the same route", () => {
  test("raw, escaped, lower-case hex, escaped unreserved letters, dot segments", () => {
    const spellings = [
      "/bucket/dir/Abc~%C3%A9.txt",
      "/bucket/dir/%41bc%7E%c3%a9.txt",
      "/bucket/dir/%41%62%63%7e%C3%A9%2Etxt",
      "/%62ucket/dir/Abc~%C3%A9.txt",
      "/bucket/x/../dir/Abc~%C3%A9.txt",
      "/bucket/./dir/Abc~%C3%A9.txt",
      "/bucket/x/%2e%2e/dir/./Abc~%C3%A9.txt",
    ];
    for (const headers of [CURL, AWSCLI]) {
      const expected = route("GET", spellings[0], PATH, headers);
      assert.equal(assertObject(expected, "first").key, "dir/Abc~é.txt");
      for (const spelling of spellings) {
        assert.deepEqual(route("GET", spelling, PATH, headers), expected, spelling);
      }
    }
  });

  test("a raw + and %2B are both a plus; %20 is a space", () => {
    assert.equal(assertObject(route("GET", "/bucket/a+b"), "+").key, "a+b");
    assert.equal(assertObject(route("GET", "/bucket/a%2Bb"), "%2B").key, "a+b");
    assert.equal(assertObject(route("GET", "/bucket/a%20b"), "%20").key, "a b");
  });

  test("// in a key is kept", () => {
    assert.equal(assertObject(route("GET", "/bucket/a//b"), "//").key, "a//b");
  });
});
