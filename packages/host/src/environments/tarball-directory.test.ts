import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { after, before, describe, it } from "node:test";

import { parseByteRange } from "./byte-range.js";
import { TarballDirectory } from "./tarball-directory.js";

describe("TarballDirectory", () => {
  let root: string;

  before(() => {
    root = mkdtempSync(join(tmpdir(), "kr-tarballs-"));
  });

  after(() => rmSync(root, { recursive: true, force: true }));

  it("lists versions newest first", async () => {
    const tarballs = new TarballDirectory(join(root, "list"));
    await tarballs.write("Env", 1_800_000_000, Readable.from(["a"]));
    await tarballs.write("env", 1_800_000_100, Readable.from(["bb"]));
    writeFileSync(join(tarballs.directory, "notes.txt"), "ignored");
    writeFileSync(join(tarballs.directory, "env-12.tar"), "too short a timestamp");

    const versions = await tarballs.versions("ENV");
    assert.deepEqual(
      versions.map((version) => [version.fileName, version.sizeBytes]),
      [
        ["env-1800000100.tar", 2],
        ["env-1800000000.tar", 1],
      ],
    );
  });

  it("next timestamp is strictly newer", async () => {
    const tarballs = new TarballDirectory(join(root, "timestamps"));
    const now = 1_800_000_000_500;
    assert.equal(await tarballs.nextTimestamp("env", now), 1_800_000_000);
    await tarballs.write("env", 1_800_000_000, Readable.from(["a"]));
    assert.equal(await tarballs.nextTimestamp("env", now), 1_800_000_001);
  });

  it("hides a tarball until it is complete", async () => {
    const tarballs = new TarballDirectory(join(root, "atomic"));
    const source = new PassThrough();
    const writing = tarballs.write("env", 1_800_000_000, source);
    source.write("first half ");
    await new Promise((resolve) => setTimeout(resolve, 50));

    assert.deepEqual(await tarballs.versions("env"), []);
    assert.equal(await tarballs.resolve("env"), null);
    assert.ok(readdirSync(tarballs.directory).every((name) => name.endsWith(".partial")));

    source.end("second half");
    const written = await writing;
    assert.equal(written.sizeBytes, "first half second half".length);
    assert.deepEqual(readdirSync(tarballs.directory), ["env-1800000000.tar"]);
  });

  it("failed write leaves no file", async () => {
    const tarballs = new TarballDirectory(join(root, "failed"));
    const source = new PassThrough();
    const writing = tarballs.write("env", 1_800_000_000, source);
    source.write("partial");
    source.destroy(new Error("engine went away"));

    await assert.rejects(writing, /engine went away/);
    assert.deepEqual(readdirSync(tarballs.directory), []);
  });

  it("prune keeps the newest versions", async () => {
    const tarballs = new TarballDirectory(join(root, "prune"));
    for (const timestamp of [1_800_000_001, 1_800_000_002, 1_800_000_003]) {
      await tarballs.write("env", timestamp, Readable.from(["x"]));
    }
    await tarballs.write("other", 1_800_000_001, Readable.from(["x"]));

    assert.deepEqual(await tarballs.prune("env", 2), ["env-1800000001.tar"]);
    assert.deepEqual(readdirSync(tarballs.directory).sort(), [
      "env-1800000002.tar",
      "env-1800000003.tar",
      "other-1800000001.tar",
    ]);
  });

  it("resolves exact names and newest versions", async () => {
    const tarballs = new TarballDirectory(join(root, "resolve"));
    await tarballs.write("env", 1_800_000_001, Readable.from(["x"]));
    await tarballs.write("env", 1_800_000_002, Readable.from(["x"]));
    writeFileSync(join(tarballs.directory, "legacy.tar"), "old style");

    assert.equal((await tarballs.resolve("env"))?.fileName, "env-1800000002.tar");
    assert.equal((await tarballs.resolve("env-1800000001"))?.fileName, "env-1800000001.tar");
    assert.equal((await tarballs.resolve("legacy"))?.fileName, "legacy.tar");
    assert.equal(await tarballs.resolve("nothing"), null);
  });

  it("deleteAll removes every version", async () => {
    const tarballs = new TarballDirectory(join(root, "delete"));
    await tarballs.write("env", 1_800_000_001, Readable.from(["x"]));
    await tarballs.write("env", 1_800_000_002, Readable.from(["x"]));
    writeFileSync(join(tarballs.directory, "env.tar"), "unversioned");
    await tarballs.write("keep", 1_800_000_001, Readable.from(["x"]));

    const deleted = await tarballs.deleteAll("env");
    assert.deepEqual(deleted.sort(), ["env-1800000001.tar", "env-1800000002.tar", "env.tar"]);
    assert.deepEqual(readdirSync(tarballs.directory), ["keep-1800000001.tar"]);
  });
});

describe("parseByteRange", () => {
  const cases: Array<[string | undefined, ReturnType<typeof parseByteRange>]> = [
    [undefined, null],
    ["bytes=0-", { start: 0, end: 99 }],
    ["bytes=40-", { start: 40, end: 99 }],
    ["bytes=10-19", { start: 10, end: 19 }],
    ["bytes=90-500", { start: 90, end: 99 }],
    ["bytes=-10", { start: 90, end: 99 }],
    ["bytes=100-", "unsatisfiable"],
    ["bytes=-0", "unsatisfiable"],
    ["bytes=20-10", null],
    ["bytes=0-1,5-6", null],
    ["items=0-5", null],
  ];
  for (const [header, expected] of cases) {
    it(`parses ${header ?? "no header"}`, () => {
      assert.deepEqual(parseByteRange(header, 100), expected);
    });
  }
});
