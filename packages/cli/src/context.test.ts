import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";

import { runCaptured } from "./cli-harness.fixture.js";
import { resolveHostSettings } from "./context.js";

describe("resolveHostSettings", () => {
  it("defaults to localhost:8000", () => {
    const settings = resolveHostSettings({}, {});
    assert.equal(settings.url, "http://localhost:8000");
    assert.deepEqual(settings.sources, { host: "default", port: "default" });
  });

  it("reads the environment", () => {
    const settings = resolveHostSettings({}, { KOHAKURIVER_HOST: "10.0.0.5", KOHAKURIVER_PORT: "9000" });
    assert.equal(settings.url, "http://10.0.0.5:9000");
    assert.deepEqual(settings.sources, { host: "environment", port: "environment" });
  });

  it("prefers options over the environment", () => {
    const settings = resolveHostSettings(
      { host: "head", port: "8100" },
      { KOHAKURIVER_HOST: "x", KOHAKURIVER_PORT: "1" },
    );
    assert.equal(settings.url, "http://head:8100");
    assert.deepEqual(settings.sources, { host: "option", port: "option" });
  });

  it("brackets IPv6 addresses", () => {
    assert.equal(resolveHostSettings({ host: "::1" }, {}).url, "http://[::1]:8000");
  });

  it("ignores empty variables", () => {
    assert.equal(resolveHostSettings({}, { KOHAKURIVER_HOST: "", KOHAKURIVER_PORT: " " }).url, "http://localhost:8000");
  });

  it("rejects invalid ports and hosts", () => {
    assert.throws(() => resolveHostSettings({}, { KOHAKURIVER_PORT: "80a" }), {
      message: "invalid port '80a' for KOHAKURIVER_PORT: use a number from 1 to 65535",
    });
    assert.throws(() => resolveHostSettings({ port: "0" }, {}), { message: /invalid port '0' for --port/ });
    assert.throws(() => resolveHostSettings({ host: "http://head" }, {}), { message: /invalid host 'http:\/\/head'/ });
  });
});

describe("config show", () => {
  it("reports values and their sources", async () => {
    const home = mkdtempSync(join(tmpdir(), "kohakuriver-show-"));
    try {
      writeFileSync(join(home, "host.toml"), "");
      const result = await runCaptured(["-P", "9000", "config", "show", "--json"], {
        env: { KOHAKURIVER_HOST: "head", KOHAKURIVER_HOME: home },
      });
      assert.equal(result.code, 0, result.stderr);
      const report = JSON.parse(result.stdout) as Record<string, unknown>;
      assert.equal(report.url, "http://head:9000");
      assert.deepEqual(report.host, { value: "head", source: "environment" });
      assert.deepEqual(report.port, { value: 9000, source: "option" });
      assert.deepEqual(report.config_dir, { path: home, source: "environment" });
      assert.deepEqual(report.files, [
        { name: "host.toml", path: join(home, "host.toml"), exists: true },
        { name: "runner.toml", path: join(home, "runner.toml"), exists: false },
      ]);

      const text = await runCaptured(["config", "show"], { env: { KOHAKURIVER_HOME: home } });
      assert.match(text.stdout, /Host URL\s+http:\/\/localhost:8000\n/);
      assert.match(text.stdout, /Port\s+8000 \(from default\)\n/);
      assert.match(text.stdout, /runner\.toml\s+.*runner\.toml \(not present\)\n/);
      assert.match(text.stderr, /kohakuriver init config/);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
