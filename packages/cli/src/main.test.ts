import assert from "node:assert/strict";
import { createServer } from "node:net";
import { describe, it } from "node:test";

import { runCaptured } from "./cli-harness.fixture.js";
import { cliVersion } from "./version.js";

/** Finds a loopback port with nothing listening on it. */
async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

describe("runCli", () => {
  it("prints the version", async () => {
    const result = await runCaptured(["--version"]);
    assert.equal(result.code, 0);
    assert.equal(result.stdout, `${cliVersion()}\n`);

    const command = await runCaptured(["version"]);
    assert.equal(command.code, 0);
    assert.match(command.stdout, new RegExp(`^kohakuriver ${cliVersion().replace(/\./g, "\\.")} \\(Node\\.js v`));
  });

  it("prints help with exit code 0", async () => {
    const result = await runCaptured(["task", "submit", "--help"]);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /--memory <size>\s+memory limit in bytes/);
    assert.match(result.stdout, /--cores <n>\s+CPU cores to reserve; 0 means no limit/);
  });

  it("describes only what exists in the root help", async () => {
    const result = await runCaptured(["--help"]);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /runs command tasks\s+and\s+VPS\s+sessions\s+in\s+Docker\s+containers/);
    assert.doesNotMatch(result.stdout, /terminal|port forward/i);
  });

  it("explains submit --wait output and exit codes", async () => {
    const result = await runCaptured(["task", "submit", "--help"]);
    assert.match(result.stdout, /-w, --wait\s+wait until the task finishes, print its output and exit/);
    assert.match(result.stdout, /its stderr to stderr/);
    assert.match(result.stdout, /or 1 when it has none \(it never started\)/);
  });

  it("hides the --cpus alias but accepts it", async () => {
    const help = await runCaptured(["task", "submit", "--help"]);
    assert.doesNotMatch(help.stdout, /--cpus/);

    const port = await unusedPort();
    const result = await runCaptured(["-P", String(port), "task", "submit", "--cpus", "x", "--", "true"]);
    assert.equal(result.code, 2);
    assert.equal(result.stderr, "error: invalid value 'x' for --cpus: use a number of cores, 0 or more\n");
  });

  it("names -n differently in task list and task logs", async () => {
    const list = await runCaptured(["task", "list", "--help"]);
    assert.match(list.stdout, /-n, --node <hostname>\s+only tasks assigned to this node/);
    const logs = await runCaptured(["task", "logs", "--help"]);
    assert.match(logs.stdout, /-n, --lines <n>\s+print only the last N lines, as tail -n does/);
  });

  it("rejects unknown options with exit code 2", async () => {
    const result = await runCaptured(["task", "list", "--bogus"]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^error: unknown option '--bogus'/);
    assert.match(result.stderr, /add --help for usage/);
  });

  it("explains where global options go", async () => {
    const result = await runCaptured(["task", "list", "-P", "9000"]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^error: unknown option '-P'\n/);
    assert.match(
      result.stderr,
      /hint: global options go before the command, for example: kohakuriver -H head -P 8000 task list/,
    );
  });

  it("shows the group's help for a missing subcommand", async () => {
    const result = await runCaptured(["task"]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /Usage: kohakuriver task/);
  });

  it("reports an unreachable host", async () => {
    const port = await unusedPort();
    const result = await runCaptured(["-P", String(port), "task", "list"]);
    assert.equal(result.code, 1);
    assert.equal(
      result.stderr,
      `error: cannot reach the host at http://localhost:${port} (ECONNREFUSED); ` +
        "start one with 'kohakuriver up' or set KOHAKURIVER_HOST/KOHAKURIVER_PORT\n",
    );
  });

  it("reads the host address from the environment", async () => {
    const port = await unusedPort();
    const result = await runCaptured(["node", "list"], {
      env: { KOHAKURIVER_HOST: "127.0.0.1", KOHAKURIVER_PORT: String(port) },
    });
    assert.equal(result.code, 1);
    assert.match(result.stderr, new RegExp(`cannot reach the host at http://127\\.0\\.0\\.1:${port} `));
  });

  it("validates submissions before contacting the host", async () => {
    const port = await unusedPort();
    const result = await runCaptured(["-P", String(port), "task", "submit", "-m", "12Q", "--", "echo", "hi"]);
    assert.equal(result.code, 2);
    assert.equal(
      result.stderr,
      "error: invalid memory size '12Q' for --memory: use a number with K, M or G, such as 512M or 4G\n",
    );
  });

  it("rejects an invalid port", async () => {
    const result = await runCaptured(["-P", "99999", "node", "list"]);
    assert.equal(result.code, 2);
    assert.equal(result.stderr, "error: invalid port '99999' for --port: use a number from 1 to 65535\n");
  });

  it("rejects an invalid task id locally", async () => {
    const result = await runCaptured(["task", "status", "abc"]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^error: invalid task id 'abc'/);
  });

  it("rejects an unknown task status filter", async () => {
    const result = await runCaptured(["task", "list", "-s", "done"]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^error: invalid task status 'done' for --status: use one of pending_approval, /);
  });
});
