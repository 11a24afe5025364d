/** src/net.ts: IP and CIDR parsing, and the client address behind trusted proxies. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { type Cidr, clientAddress, inCidrs, parseCidrList, parseIp } from "../src/net.ts";

function list(text: string): Cidr[] {
  const parsed = parseCidrList(text);
  if ("bad" in parsed) assert.fail(parsed.bad.join(", "));
  return parsed;
}

function within(address: string, cidrs: string): boolean {
  const bytes = parseIp(address);
  assert.ok(bytes, address);
  return inCidrs(bytes, list(cidrs));
}

describe("net", () => {
  test("addresses: IPv4, IPv6, mapped, bracketed, zones; junk refused", () => {
    assert.deepEqual([...parseIp("10.1.2.3")!.slice(10)], [0xff, 0xff, 10, 1, 2, 3]);
    assert.deepEqual(parseIp("::ffff:10.1.2.3"), parseIp("10.1.2.3"));
    assert.deepEqual(parseIp("[::1]"), parseIp("0:0:0:0:0:0:0:1"));
    assert.deepEqual(parseIp("fe80::1%eth0"), parseIp("fe80::1"));
    for (
      const bad of [
        "",
        "1.2.3",
        "1.2.3.256",
        "01.2.3.4",
        "1::2::3",
        "12345::",
        "a.b.c.d",
        "::g",
        "1:2:3:4:5:6:7:8:9",
      ]
    ) {
      assert.equal(parseIp(bad), undefined, bad);
    }
  });

  test("CIDR membership, IPv4 and IPv6, odd prefix lengths", () => {
    assert.ok(within("10.200.3.4", "10.0.0.0/8"));
    assert.ok(!within("11.0.0.1", "10.0.0.0/8"));
    assert.ok(within("192.168.1.130", "192.168.1.128/25"));
    assert.ok(!within("192.168.1.127", "192.168.1.128/25"));
    assert.ok(within("127.0.0.1", "127.0.0.1"));
    assert.ok(!within("127.0.0.2", "127.0.0.1"));
    assert.ok(within("::ffff:127.0.0.1", "127.0.0.0/8"), "mapped IPv4 is IPv4");
    assert.ok(within("2001:db8::5", "2001:db8::/32"));
    assert.ok(!within("2001:db9::5", "2001:db8::/32"));
    assert.ok(within("::1", "::1/128"));
    assert.ok(within("8.8.8.8", "0.0.0.0/0"));
    assert.ok(!within("::1", "0.0.0.0/0"), "an IPv4 block holds no plain IPv6 address");
  });

  test("bad lists name each bad entry", () => {
    assert.deepEqual(parseCidrList("10.0.0.0/33, ::1/129, x, 10.0.0.0/8, 1.2.3.4/-1"), {
      bad: ["10.0.0.0/33", "::1/129", "x", "1.2.3.4/-1"],
    });
  });

  test("the client address: X-Forwarded-For only from trusted proxies, rightmost untrusted", () => {
    const trusted = list("10.0.0.0/8, ::1");
    assert.equal(clientAddress("203.0.113.9", "1.2.3.4", trusted), "203.0.113.9");
    assert.equal(clientAddress("10.0.0.5", "1.2.3.4", trusted), "1.2.3.4");
    assert.equal(clientAddress("10.0.0.5", "6.6.6.6, 1.2.3.4, 10.0.0.7", trusted), "1.2.3.4");
    assert.equal(clientAddress("10.0.0.5", "10.0.0.8, 10.0.0.7", trusted), "10.0.0.8");
    assert.equal(clientAddress("10.0.0.5", null, trusted), "10.0.0.5");
    assert.equal(clientAddress("10.0.0.5", "1.2.3.4", []), "10.0.0.5", "no trusted proxies");
    assert.equal(clientAddress("10.0.0.5", "junk, 1.2.3.4", trusted), "1.2.3.4");
    assert.equal(clientAddress("10.0.0.5", "1.2.3.4, junk", trusted), undefined);
    assert.equal(clientAddress(undefined, "1.2.3.4", trusted), undefined);
  });
});
