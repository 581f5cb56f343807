import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";

import { runCaptured } from "./cli-harness.fixture.js";
import { claimPidFile, readPidFile, releasePidFile, upPidFile } from "./pid-file.js";

const root = mkdtempSync(join(tmpdir(), "kohakuriver-pid-"));
const children: ChildProcess[] = [];
after(() => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  rmSync(root, { recursive: true, force: true });
});

let counter = 0;
function freshDir(): string {
  counter += 1;
  const dir = join(root, `data-${counter}`);
  mkdirSync(dir);
  return dir;
}

/** Starts a Node process that exits on SIGTERM after `delayMs`, standing in for a running `kohakuriver up`. */
async function startSleeper(delayMs = 0): Promise<ChildProcess> {
  const script = `process.on("SIGTERM", () => setTimeout(() => process.exit(0), ${delayMs})); setInterval(() => {}, 1000); console.log("ready");`;
  const child = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  children.push(child);
  await new Promise<void>((resolve) => child.stdout?.once("data", () => resolve()));
  return child;
}

async function pidOfExitedProcess(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await new Promise((resolve) => child.once("exit", resolve));
  assert.ok(child.pid !== undefined);
  return child.pid;
}

describe("pid file", () => {
  it("is absent before a claim", () => {
    assert.deepEqual(readPidFile(upPidFile(freshDir())), { kind: "absent" });
  });

  it("claims and releases the file", () => {
    const file = upPidFile(freshDir());
    assert.equal(claimPidFile(file), null);
    assert.equal(readFileSync(file, "utf8"), `${process.pid}\n`);
    assert.deepEqual(readPidFile(file), { kind: "running", pid: process.pid });

    releasePidFile(file);
    assert.equal(existsSync(file), false);
  });

  it("refuses a claim while the owner runs", () => {
    const file = upPidFile(freshDir());
    assert.equal(claimPidFile(file), null);
    assert.equal(claimPidFile(file, 999_999), process.pid);
    assert.equal(readFileSync(file, "utf8"), `${process.pid}\n`);
    releasePidFile(file);
  });

  it("replaces a stale file", async () => {
    const file = upPidFile(freshDir());
    const deadPid = await pidOfExitedProcess();
    writeFileSync(file, `${deadPid}\n`);
    assert.deepEqual(readPidFile(file), { kind: "stale", pid: deadPid });

    assert.equal(claimPidFile(file), null);
    assert.equal(readFileSync(file, "utf8"), `${process.pid}\n`);
    releasePidFile(file);
  });

  it("treats garbage as stale", () => {
    const file = upPidFile(freshDir());
    writeFileSync(file, "not a pid\n");
    assert.deepEqual(readPidFile(file), { kind: "stale", pid: null });
  });

  it("release keeps another owner's file", () => {
    const file = upPidFile(freshDir());
    writeFileSync(file, "12345\n");
    releasePidFile(file);
    assert.equal(readFileSync(file, "utf8"), "12345\n");
  });
});

describe("up and down", () => {
  it("up rejects a second instance", async () => {
    const dir = freshDir();
    writeFileSync(upPidFile(dir), `${process.pid}\n`);
    const result = await runCaptured(["up", "--data-dir", dir]);
    assert.equal(result.code, 1);
    assert.equal(
      result.stderr,
      `error: kohakuriver up is already running for ${dir} (pid ${process.pid}); ` +
        `stop it with 'kohakuriver down --data-dir ${dir}' or Ctrl-C in its terminal\n`,
    );
    assert.equal(readFileSync(upPidFile(dir), "utf8"), `${process.pid}\n`, "the running process keeps its pid file");
  });

  it("down says when nothing runs", async () => {
    const dir = freshDir();
    const result = await runCaptured(["down", "--data-dir", dir]);
    assert.equal(result.code, 0);
    assert.equal(result.stdout, `nothing to stop: no 'kohakuriver up' is running for ${dir}\n`);
  });

  it("down removes a stale pid file", async () => {
    const dir = freshDir();
    writeFileSync(upPidFile(dir), `${await pidOfExitedProcess()}\n`);
    const result = await runCaptured(["down", "--data-dir", dir]);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /is not running \(removed its stale pid file\)/);
    assert.equal(existsSync(upPidFile(dir)), false);
  });

  it("down stops the running process", async () => {
    const dir = freshDir();
    const child = await startSleeper(300);
    const exited = new Promise((resolve) => child.once("exit", resolve));
    writeFileSync(upPidFile(dir), `${child.pid}\n`);

    const result = await runCaptured(["down", "--data-dir", dir]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `stopped kohakuriver up (pid ${child.pid})\n`);
    await exited;
    assert.equal(child.signalCode ?? child.exitCode, 0);
  });

  it("down uses KOHAKURIVER_HOME by default", async () => {
    const home = freshDir();
    const result = await runCaptured(["down"], { env: { KOHAKURIVER_HOME: home } });
    assert.equal(result.code, 0);
    assert.equal(result.stdout, `nothing to stop: no 'kohakuriver up' is running for ${home}\n`);
  });
});
