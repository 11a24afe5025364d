import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { parseListing, parseS3Error } from "../src/listing/xml.ts";
import { parseXml, type XmlElement } from "../src/xml.ts";
import { isLaterPage, nextPageToken } from "../src/listing/model.ts";

/** Escapes text for XML content the way a correct S3 implementation does. */
function xmlText(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

// A ListObjectsV2 response as the S3 API reference shows it (response syntax and examples).
const V2_DOC = `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
    <Name>amzn-s3-demo-bucket</Name>
    <Prefix/>
    <KeyCount>2</KeyCount>
    <MaxKeys>1000</MaxKeys>
    <IsTruncated>false</IsTruncated>
    <Contents>
        <Key>my-image.jpg</Key>
        <LastModified>2009-10-12T17:50:30.000Z</LastModified>
        <ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag>
        <ChecksumAlgorithm>CRC32</ChecksumAlgorithm>
        <Size>434234</Size>
        <StorageClass>STANDARD</StorageClass>
    </Contents>
    <Contents>
        <Key>my-third-image.jpg</Key>
        <LastModified>2009-10-12T17:50:30.000Z</LastModified>
        <ETag>&quot;1b2cf535f27731c974343645a3985328&quot;</ETag>
        <Size>64994</Size>
        <StorageClass>STANDARD_IA</StorageClass>
        <RestoreStatus>
            <IsRestoreInProgress>false</IsRestoreInProgress>
        </RestoreStatus>
    </Contents>
</ListBucketResult>`;

// ListObjectsV2 with a delimiter and a continuation token, truncated.
const V2_PAGE_DOC = `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>bucket</Name>
  <Prefix>photos/2006/</Prefix>
  <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
  <ContinuationToken>1/ueGcxLPRx1Tr+XYExHnhbYLgveDs2J=</ContinuationToken>
  <KeyCount>3</KeyCount>
  <MaxKeys>3</MaxKeys>
  <Delimiter>/</Delimiter>
  <IsTruncated>true</IsTruncated>
  <Contents>
    <Key>photos/2006/index.html</Key>
    <LastModified>2016-04-30T23:51:29.000Z</LastModified>
    <ETag>&quot;d41d8cd98f00b204e9800998ecf8427e&quot;</ETag>
    <Size>0</Size>
    <StorageClass>STANDARD</StorageClass>
  </Contents>
  <CommonPrefixes>
    <Prefix>photos/2006/February/</Prefix>
  </CommonPrefixes>
  <CommonPrefixes>
    <Prefix>photos/2006/January/</Prefix>
  </CommonPrefixes>
</ListBucketResult>`;

// A ListObjects (V1) response as the S3 API reference shows it.
const V1_DOC = `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>bucket</Name>
  <Prefix/>
  <Marker/>
  <MaxKeys>1000</MaxKeys>
  <IsTruncated>false</IsTruncated>
  <Contents>
    <Key>my-image.jpg</Key>
    <LastModified>2009-10-12T17:50:30.000Z</LastModified>
    <ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag>
    <Size>434234</Size>
    <StorageClass>STANDARD</StorageClass>
    <Owner>
      <ID>8a6925ce4a7f21c32aa379004fef</ID>
      <DisplayName>mtd@amazon.com</DisplayName>
    </Owner>
  </Contents>
</ListBucketResult>`;

function v1(fields: string, body: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult ` +
    `xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name>${fields}${body}` +
    `</ListBucketResult>`;
}

function contents(key: string, size = 1): string {
  return `<Contents><Key>${key}</Key><LastModified>2024-01-02T03:04:05.000Z</LastModified>` +
    `<ETag>"e"</ETag><Size>${size}</Size><StorageClass>STANDARD</StorageClass></Contents>`;
}

function v2(fields: string, body: string): string {
  return `<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name>` +
    `<KeyCount>0</KeyCount>${fields}${body}</ListBucketResult>`;
}

const TRICKY_KEYS = [
  "<img src=x onerror=alert(1)>.txt",
  "a&b",
  `"quotes'`,
  "日本語/ファイル.txt",
  "100%.csv",
  "%41 is not A",
  "what?.txt",
  "#hash",
  "emoji 😀👍🏽.png",
  "a+b c.txt",
  "  leading and trailing  ",
  "tab\there",
  "]]>",
  "&amp; already escaped",
  "C:\\windows\\path",
];

describe("parseListing: documents as S3 sends them", () => {
  test("ListObjectsV2 from the API reference", () => {
    const listing = parseListing(V2_DOC);
    assert.deepEqual(listing, {
      version: 2,
      bucket: "amzn-s3-demo-bucket",
      prefix: "",
      delimiter: "",
      isTruncated: false,
      folders: [],
      files: [
        {
          key: "my-image.jpg",
          size: 434234,
          lastModified: "2009-10-12T17:50:30.000Z",
          etag: '"fba9dede5f27731c9771645a39863328"',
          storageClass: "STANDARD",
        },
        {
          key: "my-third-image.jpg",
          size: 64994,
          lastModified: "2009-10-12T17:50:30.000Z",
          etag: '"1b2cf535f27731c974343645a3985328"',
          storageClass: "STANDARD_IA",
        },
      ],
      keyCount: 2,
      maxKeys: 1000,
    });
    assert.equal(nextPageToken(listing), undefined);
    assert.equal(isLaterPage(listing), false);
  });

  test("ListObjectsV2 page with delimiter, common prefixes and continuation tokens", () => {
    const listing = parseListing(V2_PAGE_DOC);
    assert.equal(listing.version, 2);
    assert.equal(listing.prefix, "photos/2006/");
    assert.equal(listing.delimiter, "/");
    assert.equal(listing.isTruncated, true);
    assert.deepEqual(listing.folders, ["photos/2006/February/", "photos/2006/January/"]);
    assert.deepEqual(listing.files.map((f) => [f.key, f.size]), [["photos/2006/index.html", 0]]);
    assert.equal(listing.continuationToken, "1/ueGcxLPRx1Tr+XYExHnhbYLgveDs2J=");
    assert.equal(
      nextPageToken(listing),
      "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=",
    );
    assert.equal(isLaterPage(listing), true);
  });

  test("ListObjects (V1) from the API reference, Owner ignored", () => {
    const listing = parseListing(V1_DOC);
    assert.equal(listing.version, 1);
    assert.equal(listing.marker, "");
    assert.equal(listing.isTruncated, false);
    assert.deepEqual(listing.files, [{
      key: "my-image.jpg",
      size: 434234,
      lastModified: "2009-10-12T17:50:30.000Z",
      etag: '"fba9dede5f27731c9771645a39863328"',
      storageClass: "STANDARD",
    }]);
    assert.equal(nextPageToken(listing), undefined);
  });

  test("V1 truncated: NextMarker when sent, else the last key or prefix in S3 order", () => {
    const withNext = parseListing(
      v1(
        "<Prefix></Prefix><Marker>a</Marker><NextMarker>b/</NextMarker><Delimiter>/</Delimiter>" +
          "<IsTruncated>true</IsTruncated>",
        contents("a1") + "<CommonPrefixes><Prefix>b/</Prefix></CommonPrefixes>",
      ),
    );
    assert.equal(withNext.nextMarker, "b/");
    // V1 pages are never rendered (generated listings read V2): no page token, no first-page link.
    assert.equal(nextPageToken(withNext), undefined);
    assert.equal(isLaterPage(withNext), false);

    const lastKey = parseListing(
      v1("<IsTruncated>true</IsTruncated>", contents("a") + contents("c")),
    );
    assert.equal(lastKey.nextMarker, "c");

    const lastPrefix = parseListing(
      v1(
        "<IsTruncated>true</IsTruncated>",
        contents("x") + "<CommonPrefixes><Prefix>y/</Prefix></CommonPrefixes>" + contents("z"),
      ),
    );
    assert.equal(lastPrefix.nextMarker, "z");

    // UTF-8 order: U+1F600 (F0 9F ..) sorts after U+FFFD (EF BF BD), though not in UTF-16.
    const astral = parseListing(
      v1(
        "<IsTruncated>true</IsTruncated>",
        contents("a\uFFFD") + "<CommonPrefixes><Prefix>a😀/</Prefix></CommonPrefixes>",
      ),
    );
    assert.equal(astral.nextMarker, "a😀/");
  });

  test("a truncated page without a way to the next one is rejected", () => {
    assert.throws(() => parseListing(v1("<IsTruncated>true</IsTruncated>", "")), /NextMarker/);
    assert.throws(
      () => parseListing(v2("<IsTruncated>true</IsTruncated>", contents("a"))),
      /NextContinuationToken/,
    );
  });
});

describe("parseListing: keys round-trip exactly", () => {
  test("escaped with entities", () => {
    const doc = v2(
      "<IsTruncated>false</IsTruncated>",
      TRICKY_KEYS.map((k) => contents(xmlText(k))).join(""),
    );
    assert.deepEqual(parseListing(doc).files.map((f) => f.key), TRICKY_KEYS);
  });

  test("every character written as a character reference (decimal and hex)", () => {
    const refs = (k: string, hex: boolean) =>
      [...k].map((c) => {
        const cp = c.codePointAt(0)!;
        return hex ? `&#x${cp.toString(16)};` : `&#${cp};`;
      }).join("");
    for (const hex of [false, true]) {
      const doc = v2(
        "<IsTruncated>false</IsTruncated>",
        TRICKY_KEYS.map((k) => contents(refs(k, hex))).join(""),
      );
      assert.deepEqual(parseListing(doc).files.map((f) => f.key), TRICKY_KEYS);
    }
  });

  test("CDATA sections, alone and mixed with text", () => {
    const doc = v2(
      "<IsTruncated>false</IsTruncated>",
      contents("<![CDATA[<img src=x onerror=alert(1)>.txt]]>") +
        contents("a<![CDATA[&b]]>&amp;<![CDATA[]]>c") +
        contents("<![CDATA[]]]]><![CDATA[>]]>"),
    );
    assert.deepEqual(parseListing(doc).files.map((f) => f.key), [
      "<img src=x onerror=alert(1)>.txt",
      "a&b&c",
      "]]>",
    ]);
  });

  test("astral code points, decimal and hex", () => {
    const doc = v2(
      "<IsTruncated>false</IsTruncated>",
      contents("&#128512;&#x1F600;&#x41;") +
        contents("&#x10FFFF;"),
    );
    assert.deepEqual(parseListing(doc).files.map((f) => f.key), ["😀😀A", "\u{10FFFF}"]);
  });

  test("double-escaped text stays double-escaped (no workaround for s3rver)", () => {
    const doc = v2("<IsTruncated>false</IsTruncated>", contents("a&amp;amp;b&amp;lt;"));
    assert.deepEqual(parseListing(doc).files.map((f) => f.key), ["a&amp;b&lt;"]);
  });

  test("control characters by reference are kept; raw CR LF is normalised, &#13; is not", () => {
    const doc = v2(
      "<IsTruncated>false</IsTruncated>",
      contents("a&#x1;b&#13;&#10;c") + contents("x\r\ny\rz"),
    );
    assert.deepEqual(parseListing(doc).files.map((f) => f.key), ["a\u0001b\r\nc", "x\ny\nz"]);
  });

  test("whitespace inside leaf values is preserved, around elements it is ignored", () => {
    const doc = `\uFEFF<?xml version='1.0' encoding='utf-8' ?>\r\n<!-- listing -->\n` +
      v2(
        "\n  <IsTruncated>\n false \n</IsTruncated>\n  ",
        "\n  " + contents(" spaced ") + "\n\t",
      ) + "\n<?trailing pi?>\n";
    const listing = parseListing(doc);
    assert.equal(listing.isTruncated, false);
    assert.deepEqual(listing.files.map((f) => f.key), [" spaced "]);
  });
});

describe("parseListing: encoding-type=url", () => {
  test("V2: Key, Prefix, Delimiter, StartAfter and CommonPrefixes decoded, + is a space", () => {
    // As AWS encodes: a space is "+", a plus is "%2B", "/" is kept, UTF-8 percent-encoded.
    const doc = `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>bucket</Name><Prefix>run+books/%ED%95%9C/</Prefix>
  <NextContinuationToken>tok+en%2B/=</NextContinuationToken>
  <KeyCount>3</KeyCount><MaxKeys>3</MaxKeys><Delimiter>%2F</Delimiter>
  <StartAfter>run+books/%ED%95%9C/0</StartAfter>
  <IsTruncated>true</IsTruncated>
  <Contents><Key>run+books/%ED%95%9C/a+b.txt</Key><Size>1</Size></Contents>
  <Contents><Key>run+books/%ED%95%9C/a%2Bb.txt</Key><Size>2</Size></Contents>
  <Contents><Key>run+books/%ED%95%9C/100%25%3F%23%26%3C%3E.csv</Key><Size>3</Size></Contents>
  <CommonPrefixes><Prefix>run+books/%ED%95%9C/%F0%9F%98%80+x/</Prefix></CommonPrefixes>
  <EncodingType>url</EncodingType>
</ListBucketResult>`;
    const listing = parseListing(doc);
    assert.equal(listing.prefix, "run books/한/");
    assert.equal(listing.delimiter, "/");
    assert.equal(listing.startAfter, "run books/한/0");
    assert.deepEqual(listing.files.map((f) => f.key), [
      "run books/한/a b.txt",
      "run books/한/a+b.txt",
      "run books/한/100%?#&<>.csv",
    ]);
    assert.deepEqual(listing.folders, ["run books/한/😀 x/"]);
    // Tokens are opaque: never decoded.
    assert.equal(nextPageToken(listing), "tok+en%2B/=");
  });

  test("V1: Marker and NextMarker decoded", () => {
    const listing = parseListing(
      v1(
        "<Prefix>a%20b/</Prefix><Marker>a+b/%C3%A9</Marker><NextMarker>a+b/%C3%A9z</NextMarker>" +
          "<EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>",
        contents("a+b/%C3%A9z"),
      ),
    );
    assert.equal(listing.prefix, "a b/");
    assert.equal(listing.marker, "a b/é");
    assert.equal(listing.nextMarker, "a b/éz");
    assert.deepEqual(listing.files.map((f) => f.key), ["a b/éz"]);
  });

  test("without EncodingType nothing is decoded", () => {
    const listing = parseListing(v2("<IsTruncated>false</IsTruncated>", contents("a+b%20c")));
    assert.deepEqual(listing.files.map((f) => f.key), ["a+b%20c"]);
  });

  test("a bad escape or invalid UTF-8 is rejected, and so is an unknown encoding", () => {
    const enc = "<EncodingType>url</EncodingType><IsTruncated>false</IsTruncated>";
    assert.throws(() => parseListing(v2(enc, contents("a%ZZ"))), /URL-encoding in <Key>/);
    assert.throws(() => parseListing(v2(enc, contents("a%C3"))), /URL-encoding in <Key>/);
    assert.throws(() => parseListing(v2(enc, contents("a%"))), /URL-encoding/);
    assert.throws(
      () =>
        parseListing(
          v2("<EncodingType>base64</EncodingType><IsTruncated>false</IsTruncated>", ""),
        ),
      /unsupported <EncodingType>/,
    );
  });
});

describe("parseListing: structure", () => {
  test("elements in any order, unknown elements ignored, self-closing and empty elements", () => {
    const doc = `<ListBucketResult>
      <Unknown attr="1"><Nested><Key>not a key</Key></Nested></Unknown>
      <Contents><StorageClass/><Size>5</Size><Owner><ID>x</ID></Owner><Key>k</Key></Contents>
      <IsTruncated>false</IsTruncated><Delimiter></Delimiter><Prefix/><Name>b</Name>
      <KeyCount>1</KeyCount><Marker/>
    </ListBucketResult>`;
    const listing = parseListing(doc);
    assert.deepEqual(listing.files, [{ key: "k", size: 5, lastModified: "", etag: "" }]);
    assert.equal(listing.prefix, "");
    assert.equal(listing.delimiter, "");
    assert.equal(listing.bucket, "b");
  });

  test("namespace prefixes on elements", () => {
    const doc = `<s3:ListBucketResult xmlns:s3="http://s3.amazonaws.com/doc/2006-03-01/">
      <s3:Name>b</s3:Name><s3:IsTruncated>false</s3:IsTruncated>
      <s3:Contents><s3:Key>k&lt;</s3:Key><s3:Size>1</s3:Size></s3:Contents>
    </s3:ListBucketResult>`;
    assert.deepEqual(parseListing(doc).files.map((f) => f.key), ["k<"]);
  });

  test("comments and processing instructions inside elements", () => {
    const doc = v2(
      "<IsTruncated><!-- c -->false<?pi x?></IsTruncated>",
      "<Contents><Key>a<!-- not part of it -->b</Key><Size>1</Size></Contents>",
    );
    assert.deepEqual(parseListing(doc).files.map((f) => f.key), ["ab"]);
  });

  test("invalid content is rejected with a clear error", () => {
    const cases: [string, RegExp][] = [
      [v2("", ""), /missing <IsTruncated>/],
      [v2("<IsTruncated>maybe</IsTruncated>", ""), /IsTruncated> is not a boolean/],
      [v2("<IsTruncated>false</IsTruncated><IsTruncated>true</IsTruncated>", ""), /duplicate/],
      [v2("<IsTruncated>false</IsTruncated>", "<Contents><Size>1</Size></Contents>"), /Key/],
      [v2("<IsTruncated>false</IsTruncated>", "<Contents><Key>a</Key></Contents>"), /Size/],
      [v2("<IsTruncated>false</IsTruncated>", contents("a", -1)), /Size/],
      [
        v2("<IsTruncated>false</IsTruncated>", "<Contents><Key>a</Key><Size>1e3</Size></Contents>"),
        /Size/,
      ],
      [
        v2(
          "<IsTruncated>false</IsTruncated>",
          "<Contents><Key>a</Key><Size>99999999999999999999</Size></Contents>",
        ),
        /too large/,
      ],
      [
        v2(
          "<IsTruncated>false</IsTruncated>",
          "<Contents><Key>a<b/></Key><Size>1</Size></Contents>",
        ),
        /text only/,
      ],
      [
        v2(
          "<IsTruncated>false</IsTruncated>",
          "<Contents><Key>a</Key><Key>b</Key><Size>1</Size></Contents>",
        ),
        /duplicate <Key>/,
      ],
      [v2("<IsTruncated>false</IsTruncated>", "<CommonPrefixes/>"), /CommonPrefixes/],
      ["<ListAllMyBucketsResult/>", /expected <ListBucketResult>/],
      ["<Error><Code>NoSuchBucket</Code><Message>nope</Message></Error>", /NoSuchBucket: nope/],
    ];
    for (const [doc, message] of cases) {
      assert.throws(() => parseListing(doc), message, doc);
    }
  });

  test("every truncation of a valid document is rejected (never a half model)", () => {
    const doc = V2_PAGE_DOC;
    for (let cut = 0; cut < doc.length; cut++) {
      assert.throws(() => parseListing(doc.slice(0, cut)), SyntaxError, `cut at ${cut}`);
    }
    assert.equal(parseListing(doc).folders.length, 2);
  });
});

describe("parseXml: malformed documents", () => {
  const bad: [string, RegExp][] = [
    ["", /no root element/],
    ["   ", /no root element/],
    ["text", /expected the root element/],
    ["<a>", /unclosed element <a>/],
    ["<a></b>", /<\/b> does not match <a>/],
    ["<a><b></a></b>", /does not match/],
    ["</a>", /does not match any open element/],
    ["<a/><b/>", /content after the root element/],
    ["<a/>text", /content after the root element/],
    ["<a>&foo;</a>", /unknown entity reference "&foo;"/],
    ["<a>&amp</a>", /entity reference/],
    ["<a>a & b</a>", /entity reference/],
    ["<a>&#0;</a>", /not allowed/],
    ["<a>&#xD800;</a>", /not allowed/],
    ["<a>&#x110000;</a>", /not allowed/],
    ["<a>&#xFFFE;</a>", /not allowed/],
    ["<a>&#99999999999;</a>", /not allowed/],
    ["<a>\u0001</a>", /U\+0001 is not allowed/],
    ["<a>\uD800</a>", /lone surrogate/],
    ["<a>]]></a>", /"]]>" is not allowed/],
    ["<a><![CDATA[x</a>", /unterminated CDATA/],
    ["<a><!-- x </a>", /unterminated comment/],
    ["<a><!-- x -- y --></a>", /"--" is not allowed/],
    ["<a x=1/>", /quoted value/],
    ["<a x='1' x='2'/>", /duplicate attribute x/],
    ["<a x='<'/>", /"<" is not allowed in attribute/],
    ["<a x='1'y='2'/>", /whitespace before an attribute/],
    ["<a x='1", /unterminated/],
    ["<a / >", /expected ">" after "\/"/],
    ["<1a/>", /expected element name/],
    ["<!DOCTYPE a [<!ENTITY x 'y'>]><a>&x;</a>", /DOCTYPE is not supported/],
    ["<a><!ENTITY x 'y'></a>", /markup declarations/],
    ['<?xml version="2.0"?><a/>', /version/],
    ['<?xml version="1.0" encoding="ISO-8859-1"?><a/>', /unsupported encoding/],
    ['<a/><?xml version="1.0"?>', /only allowed at the start/],
    ['<?xml version="1.0"', /unterminated XML declaration/],
  ];
  for (const [doc, message] of bad) {
    test(JSON.stringify(doc), () => {
      assert.throws(() => parseXml(doc), (e: unknown) => {
        assert.ok(e instanceof SyntaxError);
        assert.match(e.message, message);
        return true;
      });
    });
  }

  test("a well-formed document gives the element tree", () => {
    const root = parseXml(
      `<?xml version="1.0"?><r a="1 &amp; &#x1F600;" b='"x"'>t<c/><d>u</d>v<![CDATA[<w>]]></r>`,
    );
    assert.deepEqual(
      root,
      {
        name: "r",
        attributes: { a: "1 & 😀", b: '"x"' },
        children: [
          "t",
          { name: "c", attributes: {}, children: [] },
          { name: "d", attributes: {}, children: ["u"] },
          "v<w>",
        ],
      } satisfies XmlElement,
    );
  });

  test("deep nesting does not overflow the stack", () => {
    const depth = 100_000;
    const root = parseXml("<a>".repeat(depth) + "x" + "</a>".repeat(depth));
    assert.equal(root.name, "a");
  });
});

describe("parseS3Error", () => {
  test("code and message of an S3 error document", () => {
    const doc = `<?xml version="1.0" encoding="UTF-8"?>
<Error>
  <Code>NoSuchBucket</Code>
  <Message>The specified bucket does not exist</Message>
  <BucketName>nope</BucketName>
  <RequestId>4442587FB7D0A2F9</RequestId>
  <HostId>xyz</HostId>
</Error>`;
    assert.deepEqual(parseS3Error(doc), {
      code: "NoSuchBucket",
      message: "The specified bucket does not exist",
    });
  });

  test("message with entities; missing message is empty", () => {
    assert.deepEqual(
      parseS3Error("<Error><Message>a &lt;b&gt;</Message><Code>AccessDenied</Code></Error>"),
      { code: "AccessDenied", message: "a <b>" },
    );
    assert.deepEqual(parseS3Error("<Error><Code>X</Code></Error>"), { code: "X", message: "" });
  });

  test("rejects other documents and a missing code", () => {
    assert.throws(() => parseS3Error(V1_DOC), /expected <Error>/);
    assert.throws(() => parseS3Error("<Error><Message>m</Message></Error>"), /without <Code>/);
    assert.throws(() => parseS3Error("<Error><Code>X</Code>"), /unclosed/);
  });
});
