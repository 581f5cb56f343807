import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { InvalidInputError } from "@kohakuriver/api";

import { baseName, forbiddenRootOf, joinPath, normalizeContainerPath, parentPath } from "./paths.js";

describe("container path normalisation", () => {
  it("collapses dots and slashes", () => {
    const cases: Array<[string, string]> = [
      ["/", "/"],
      ["//", "/"],
      ["/root/", "/root"],
      ["/root//a/./b", "/root/a/b"],
      ["/root/a/../b", "/root/b"],
      ["/../../etc/hostname", "/etc/hostname"],
      ["/a/b/../../..", "/"],
      ["/with space/new\nline/$(x)", "/with space/new\nline/$(x)"],
      ["/procfile", "/procfile"],
      ["/devices/x", "/devices/x"],
    ];
    for (const [given, expected] of cases) {
      assert.equal(normalizeContainerPath(given, "path"), expected, JSON.stringify(given));
    }
  });

  it("rejects relative paths naming the field", () => {
    for (const given of ["etc/passwd", "", ".", "../x", "~/x"]) {
      assert.throws(
        () => normalizeContainerPath(given, "source"),
        (error: unknown) =>
          error instanceof InvalidInputError &&
          error.field === "source" &&
          /^source: .* is not an absolute path/.test(error.detail),
        JSON.stringify(given),
      );
    }
  });

  it("rejects kernel interfaces", () => {
    for (const given of [
      "/proc",
      "/proc/",
      "/proc/self/environ",
      "/sys/kernel",
      "/dev",
      "/dev/null",
      "/tmp/../proc/1",
      "/./dev//sda",
    ]) {
      assert.throws(
        () => normalizeContainerPath(given, "path"),
        (error: unknown) =>
          error instanceof InvalidInputError && error.status === 400 && /is under \/(proc|sys|dev)/.test(error.detail),
        given,
      );
    }
  });

  it("says what a dot-dot path resolves to", () => {
    assert.throws(
      () => normalizeContainerPath("/root/../proc/1", "path"),
      /"\/root\/..\/proc\/1" \(it resolves to "\/proc\/1"\)/,
    );
  });

  it("rejects NUL bytes", () => {
    assert.throws(() => normalizeContainerPath("/root/a\0b", "path"), /NUL/);
  });

  it("rejects names the kernel cannot store", () => {
    const cases: Array<[string, RegExp]> = [
      [`/root/${"a".repeat(256)}`, /^path: ".*" has a name of 256 bytes; the limit is 255 bytes per name/],
      [`/root/${"é".repeat(128)}/x`, /^path: ".*" has a name of 256 bytes; the limit is 255 bytes per name/],
      [`/root${"/b".repeat(2048)}`, /^path: ".*" is 4101 bytes long; the limit is 4095 bytes/],
    ];
    for (const [given, expected] of cases) {
      assert.throws(
        () => normalizeContainerPath(given, "path"),
        (error: unknown) => error instanceof InvalidInputError && error.field === "path" && expected.test(error.detail),
        given.slice(0, 40),
      );
    }
  });

  it("accepts names at the kernel's limits", () => {
    const longName = `/root/${"a".repeat(255)}`;
    assert.equal(normalizeContainerPath(longName, "path"), longName);
    const longPath = `/${"b/".repeat(2046)}ab`;
    assert.equal(Buffer.byteLength(longPath), 4095);
    assert.equal(normalizeContainerPath(longPath, "path"), longPath);
  });

  it("finds forbidden roots exactly", () => {
    assert.equal(forbiddenRootOf("/proc"), "/proc");
    assert.equal(forbiddenRootOf("/sys/x"), "/sys");
    assert.equal(forbiddenRootOf("/process"), null);
    assert.equal(forbiddenRootOf("/root/proc"), null);
  });

  it("splits and joins paths", () => {
    assert.equal(parentPath("/"), null);
    assert.equal(parentPath("/a"), "/");
    assert.equal(parentPath("/a/b c"), "/a");
    assert.equal(baseName("/a/b c"), "b c");
    assert.equal(baseName("/"), "");
    assert.equal(joinPath("/", "a"), "/a");
    assert.equal(joinPath("/a", "b"), "/a/b");
  });
});
