// The INI parser and the shared credentials/config files: comments, white space, several
// profiles, `[profile X]` in the config file, precedence, partial profiles, reload.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseIni } from "../src/credentials/ini.ts";
import {
  configProfiles,
  profileCredentials,
  sharedFilePaths,
  sharedFilesProvider,
} from "../src/credentials/shared_files.ts";
import { resolveCredentialProvider } from "../src/credentials/resolve.ts";
import { runtimeCredentialIo } from "../src/credentials/io.ts";
import { CredentialSourceError } from "../src/credentials/provider.ts";
import { captureLog, memoryFiles } from "./support/fake_aws.ts";

const obj = (m: Map<string, string> | undefined) => Object.fromEntries(m ?? []);

describe("parseIni", () => {
  test("sections, white space, = without spaces, and case-insensitive keys", () => {
    const data = parseIni(
      "[default]\n" +
        "aws_access_key_id=AKIDDEFAULT\n" +
        "  aws_secret_access_key   =   secret/with+chars==  \n" +
        "\n" +
        "[  dev  ]\r\n" +
        "AWS_ACCESS_KEY_ID = AKIDDEV\r\n" +
        "region = eu-west-1\r\n",
    );
    assert.deepEqual([...data.keys()], ["default", "dev"]);
    assert.deepEqual(obj(data.get("default")), {
      aws_access_key_id: "AKIDDEFAULT",
      aws_secret_access_key: "secret/with+chars==",
    });
    assert.deepEqual(obj(data.get("dev")), { aws_access_key_id: "AKIDDEV", region: "eu-west-1" });
  });

  test("comments with # and ;, whole-line and inline after white space", () => {
    const data = parseIni(
      "# a comment\n" +
        "; another\n" +
        "[a] # section comment\n" +
        "k1 = v1 # inline\n" +
        "k2 = v2 ; inline\n" +
        "k3 = v#3;x\n" +
        "#k4 = hidden\n" +
        "   ; k5 = hidden\n",
    );
    assert.deepEqual(obj(data.get("a")), { k1: "v1", k2: "v2", k3: "v#3;x" });
  });

  test("nested properties, merged duplicate sections, junk lines ignored", () => {
    const data = parseIni(
      "orphan = ignored\n" +
        "[p]\n" +
        "s3 =\n" +
        "  addressing_style = path\n" +
        "  max_concurrent_requests = 4\n" +
        "a = 1\n" +
        "no equals sign here\n" +
        "= no key\n" +
        "[p]\n" +
        "a = 2\n" +
        "b =\n",
    );
    assert.deepEqual(obj(data.get("p")), {
      s3: "",
      "s3.addressing_style": "path",
      "s3.max_concurrent_requests": "4",
      a: "2",
      b: "",
    });
    assert.equal(data.size, 1);
  });

  test("configProfiles: [profile X] and [default], [profile default] wins", () => {
    const profiles = configProfiles(parseIni(
      "[default]\nregion = a\n[profile  dev]\nregion = b\n[sso-session s]\nx = 1\n" +
        "[profile default]\nregion = c\n[dev]\nregion = not-a-profile\n",
    ));
    assert.deepEqual([...profiles.keys()].sort(), ["default", "dev"]);
    assert.equal(profiles.get("dev")?.get("region"), "b");
    assert.equal(profiles.get("default")?.get("region"), "c");
  });
});

const CREDENTIALS = `# several profiles
[default]
aws_access_key_id = AKIDDEFAULT
aws_secret_access_key = secretDefault

[staging]
aws_access_key_id     = AKIDSTAGING
aws_secret_access_key = secretStaging   ; rotated monthly
aws_session_token     = tokenStaging

[prod]
aws_access_key_id = AKIDPROD
aws_secret_access_key = secretProd
`;

const CONFIG = `[default]
region = us-east-1

[profile fromconfig]
aws_access_key_id = AKIDCONFIG
aws_secret_access_key = secretConfig

[profile staging]
aws_access_key_id = AKIDSHADOWED
aws_secret_access_key = shadowed

[profile assumed]
role_arn = arn:aws:iam::123456789012:role/x
source_profile = default
`;

describe("profileCredentials", () => {
  const cred = { path: "/h/.aws/credentials", text: CREDENTIALS };
  const conf = { path: "/h/.aws/config", text: CONFIG };

  test("a profile chosen from a credentials file that holds several", () => {
    for (
      const [profile, id, secret, token] of [
        ["default", "AKIDDEFAULT", "secretDefault", undefined],
        ["staging", "AKIDSTAGING", "secretStaging", "tokenStaging"],
        ["prod", "AKIDPROD", "secretProd", undefined],
      ] as const
    ) {
      const found = profileCredentials(cred, conf, profile);
      assert.ok(found.found);
      assert.equal(found.file, "/h/.aws/credentials");
      assert.deepEqual(found.credentials, {
        accessKeyId: id,
        secretAccessKey: secret,
        ...(token ? { sessionToken: token } : {}),
      });
    }
  });

  test("the config file's [profile X], used when the credentials file has none", () => {
    const found = profileCredentials(cred, conf, "fromconfig");
    assert.ok(found.found);
    assert.equal(found.file, "/h/.aws/config");
    assert.equal(found.credentials.accessKeyId, "AKIDCONFIG");
  });

  test("missing files, missing profiles and unsupported profiles say why", () => {
    const none = profileCredentials({ path: "/x/c", error: "does not exist" }, {
      path: "/x/f",
      error: "does not exist",
    }, "default");
    assert.deepEqual(none, {
      found: false,
      reason: "/x/c: does not exist; /x/f: does not exist",
    });
    const assumed = profileCredentials(cred, conf, "assumed");
    assert.ok(!assumed.found);
    assert.match(assumed.reason, /\/h\/.aws\/credentials has no profile assumed/);
    assert.match(assumed.reason, /has no static keys \(role_arn is not supported\)/);
    const onlyRegion = profileCredentials({ path: "/c", text: "" }, conf, "default");
    assert.ok(!onlyRegion.found);
    assert.match(onlyRegion.reason, /profile default in \/h\/.aws\/config has no static keys$/);
  });

  test("a partial profile is an error that does not show the value", () => {
    assert.throws(
      () =>
        profileCredentials(
          {
            path: "/c",
            text: "[default]\naws_access_key_id = AKID\n",
          },
          conf,
          "default",
        ),
      (e: unknown) =>
        e instanceof CredentialSourceError &&
        /has aws_access_key_id but no aws_secret/.test(e.message),
    );
    assert.throws(
      () =>
        profileCredentials(
          {
            path: "/c",
            text: "[default]\naws_secret_access_key = hushhush\n",
          },
          conf,
          "default",
        ),
      (e: unknown) => e instanceof Error && !e.message.includes("hushhush"),
    );
  });

  test("sharedFilePaths: defaults under the home directory, overrides, ~", () => {
    assert.deepEqual(sharedFilePaths({}, "/home/me/"), {
      credentials: "/home/me/.aws/credentials",
      config: "/home/me/.aws/config",
      profile: "default",
      explicitProfile: false,
    });
    assert.deepEqual(
      sharedFilePaths({
        AWS_SHARED_CREDENTIALS_FILE: "~/creds",
        AWS_CONFIG_FILE: "/etc/aws/config",
        AWS_PROFILE: "prod",
      }, "/home/me"),
      {
        credentials: "/home/me/creds",
        config: "/etc/aws/config",
        profile: "prod",
        explicitProfile: true,
      },
    );
    assert.equal(sharedFilePaths({}, undefined).credentials, undefined);
  });
});

describe("sharedFilesProvider", () => {
  test("AWS_PROFILE picks the profile; reload() re-reads the files", async () => {
    const fs = memoryFiles({ "/h/.aws/credentials": CREDENTIALS, "/h/.aws/config": CONFIG });
    const { log, events, text } = captureLog();
    const found = await sharedFilesProvider({
      env: { AWS_PROFILE: "prod" },
      homeDir: "/h",
      readTextFile: fs.readTextFile,
      log,
    });
    assert.ok("provider" in found);
    const p = found.provider;
    assert.equal(p.source, "shared file /h/.aws/credentials (profile prod)");
    assert.equal((await p.get()).accessKeyId, "AKIDPROD");
    fs.files.set("/h/.aws/credentials", CREDENTIALS.replace("AKIDPROD", "AKIDPROD2"));
    await p.reload!();
    assert.equal((await p.get()).accessKeyId, "AKIDPROD2");
    fs.files.set("/h/.aws/credentials", "[prod]\naws_access_key_id = AKIDBROKEN\n");
    await p.reload!();
    assert.equal((await p.get()).accessKeyId, "AKIDPROD2", "a broken file keeps the old keys");
    assert.deepEqual(events.map((e) => e.event), [
      "shared_files_reloaded",
      "shared_files_reload_failed",
    ]);
    for (const secret of ["secretProd", "secretStaging", "tokenStaging", "secretDefault"]) {
      assert.ok(!text().includes(secret));
    }
  });

  test("no profile: absent with the reason, unless AWS_PROFILE named it", async () => {
    const fs = memoryFiles({ "/h/.aws/config": "[default]\nregion = x\n" });
    const absent = await sharedFilesProvider({
      env: {},
      homeDir: "/h",
      readTextFile: fs.readTextFile,
      log: () => {},
    });
    assert.deepEqual(absent, {
      absent: "/h/.aws/credentials: does not exist; profile default in /h/.aws/config has no " +
        "static keys",
    });
    await assert.rejects(
      sharedFilesProvider({
        env: { AWS_PROFILE: "nope" },
        homeDir: "/h",
        readTextFile: fs.readTextFile,
        log: () => {},
      }),
      /AWS_PROFILE=nope: .*has no profile nope/,
    );
  });

  test("end to end: real files, several profiles, chosen by AWS_PROFILE through the chain", async () => {
    const dir = await mkdtemp(join(tmpdir(), "aws-shared-"));
    try {
      await writeFile(join(dir, "credentials"), CREDENTIALS);
      await writeFile(join(dir, "config"), CONFIG);
      const env = {
        AWS_SHARED_CREDENTIALS_FILE: join(dir, "credentials"),
        AWS_CONFIG_FILE: join(dir, "config"),
        AWS_PROFILE: "staging",
        AWS_EC2_METADATA_DISABLED: "true",
      };
      const { log, events } = captureLog();
      const io = { ...runtimeCredentialIo({ env, log }), homeDir: dir };
      const provider = await resolveCredentialProvider(env, io);
      assert.deepEqual(await provider.get(), {
        accessKeyId: "AKIDSTAGING",
        secretAccessKey: "secretStaging",
        sessionToken: "tokenStaging",
      });
      assert.equal(provider.source, `shared file ${join(dir, "credentials")} (profile staging)`);
      const chosen = events.find((e) => e.event === "credentials_source");
      assert.deepEqual(chosen?.skipped, [
        "environment: AWS_ACCESS_KEY_ID is not set",
        "web identity: AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN are not set",
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
