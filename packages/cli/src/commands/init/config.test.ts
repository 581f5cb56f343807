import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";

import { HostConfigSchema, loadHostConfig } from "@kohakuriver/host";
import { loadRunnerConfig, RunnerConfigSchema } from "@kohakuriver/runner";
import { parse as parseToml } from "smol-toml";

import { runCaptured } from "../../cli-harness.fixture.js";
import { HOST_CONFIG_COMMENTS, RUNNER_CONFIG_COMMENTS } from "./config-comments.js";
import { tomlValue } from "./template.js";

const root = mkdtempSync(join(tmpdir(), "kohakuriver-init-"));
after(() => rmSync(root, { recursive: true, force: true }));

function freshDir(name: string): string {
  return join(root, name);
}

describe("init config", () => {
  it("has a comment for every config key", () => {
    assert.deepEqual(Object.keys(HOST_CONFIG_COMMENTS).sort(), Object.keys(HostConfigSchema.shape).sort());
    assert.deepEqual(Object.keys(RUNNER_CONFIG_COMMENTS).sort(), Object.keys(RunnerConfigSchema.shape).sort());
  });

  it("writes both templates with defaults", async () => {
    const dir = freshDir("both");
    const result = await runCaptured(["init", "config", "-o", dir]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /wrote .*host\.toml\n/);
    assert.match(result.stdout, /wrote .*runner\.toml\n/);

    const hostToml = parseToml(readFileSync(join(dir, "host.toml"), "utf8"));
    assert.deepEqual({ ...hostToml }, HostConfigSchema.parse({}));
    const runnerToml = parseToml(readFileSync(join(dir, "runner.toml"), "utf8"));
    assert.deepEqual({ ...runnerToml }, RunnerConfigSchema.parse({}));
  });

  it("writes files the config loaders accept", async () => {
    const dir = freshDir("loadable");
    assert.equal((await runCaptured(["init", "config", "-o", dir])).code, 0);

    const host = loadHostConfig({ file: join(dir, "host.toml"), env: {} });
    assert.equal(host.file, join(dir, "host.toml"));
    assert.deepEqual({ ...host.config }, HostConfigSchema.parse({}));
    const runner = loadRunnerConfig({ file: join(dir, "runner.toml"), env: {} });
    assert.deepEqual({ ...runner.config }, RunnerConfigSchema.parse({}));
  });

  it("puts a comment above each key", async () => {
    const dir = freshDir("comments");
    assert.equal((await runCaptured(["init", "config", "--host", "-o", dir])).code, 0);
    const text = readFileSync(join(dir, "host.toml"), "utf8");
    assert.match(text, /# Seconds between runner heartbeats that the host expects\.\nHEARTBEAT_INTERVAL_SECONDS = 2\n/);
    assert.match(text, /# TCP port of the REST API and WebSockets\.\nHOST_PORT = 8000\n/);
    assert.match(text, /\nADDITIONAL_MOUNTS = \[\]\n/);
  });

  it("writes only the requested file", async () => {
    const dir = freshDir("runner-only");
    const result = await runCaptured(["init", "config", "--runner", "-o", dir]);
    assert.equal(result.code, 0);
    assert.equal(existsSync(join(dir, "host.toml")), false);
    assert.equal(statSync(join(dir, "runner.toml")).mode & 0o777, 0o600);
  });

  it("refuses to overwrite without --force", async () => {
    const dir = freshDir("existing");
    assert.equal((await runCaptured(["init", "config", "--host", "-o", dir])).code, 0);
    writeFileSync(join(dir, "host.toml"), "HOST_PORT = 9000\n");

    const refused = await runCaptured(["init", "config", "-o", dir]);
    assert.equal(refused.code, 1);
    assert.equal(
      refused.stderr,
      `error: ${join(dir, "host.toml")} already exists; edit it, or pass --force to replace it with the template\n`,
    );
    assert.equal(readFileSync(join(dir, "host.toml"), "utf8"), "HOST_PORT = 9000\n");
    assert.equal(existsSync(join(dir, "runner.toml")), false, "nothing is written when one file is refused");

    const forced = await runCaptured(["init", "config", "--force", "-o", dir]);
    assert.equal(forced.code, 0);
    assert.match(readFileSync(join(dir, "host.toml"), "utf8"), /\nHOST_PORT = 8000\n/);
  });

  it("defaults to KOHAKURIVER_HOME", async () => {
    const home = freshDir("home");
    const result = await runCaptured(["init", "config", "--host"], { env: { KOHAKURIVER_HOME: home } });
    assert.equal(result.code, 0);
    assert.equal(existsSync(join(home, "host.toml")), true);
  });
});

describe("tomlValue", () => {
  it("encodes every value type", () => {
    const values = { s: 'quote " and \\ and \n and \u007f', i: 42, f: 0.25, b: false, a: ["x", "y"], e: [] };
    const text = Object.entries(values)
      .map(([key, value]) => `${key} = ${tomlValue(value)}`)
      .join("\n");
    assert.deepEqual({ ...parseToml(text) }, values);
  });
});
