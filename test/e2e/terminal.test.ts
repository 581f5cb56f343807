/**
 * The terminal end to end: `kohakuriver connect` and `docker container shell` under a real
 * pseudo-terminal, through the host and the runner to an Engine exec in the container.
 */

import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";

import pty from "@lydell/node-pty";

import { openWebSocket, WebSocketRefusedError } from "../../packages/access/src/index.js";
import { CLI, docker, dockerSkip, useCluster, useEnvironmentContainer, waitFor } from "./harness.js";

/** A CLI process on its own pseudo-terminal, with everything it printed so far. */
class TerminalProcess {
  output = "";
  readonly exited: Promise<number>;
  private readonly terminal: pty.IPty;

  constructor(command: string, env: Record<string, string>) {
    this.terminal = pty.spawn("/bin/sh", ["-c", command], {
      cols: 80,
      rows: 24,
      env: { ...process.env, NO_COLOR: "1", ...env } as Record<string, string>,
    });
    this.terminal.onData((data) => {
      this.output += data;
    });
    this.exited = new Promise((resolve) => this.terminal.onExit(({ exitCode }) => resolve(exitCode)));
  }

  get device(): string {
    return (this.terminal as unknown as { ptsName: string }).ptsName;
  }

  get pid(): number {
    return this.terminal.pid;
  }

  write(text: string): void {
    this.terminal.write(text);
  }

  resize(cols: number, rows: number): void {
    this.terminal.resize(cols, rows);
  }

  async waitForOutput(pattern: RegExp, timeoutMs = 15_000): Promise<void> {
    await waitFor(
      async () => pattern.test(this.output),
      timeoutMs,
      () => `no ${pattern} in: ${this.output}`,
    );
  }

  /** Types a command that prints a marker, then waits for the marker, so the shell is known to be ready. */
  async waitForShell(): Promise<void> {
    await this.waitForOutput(/\S/);
    this.write("echo ready-$((20+22))\r");
    await this.waitForOutput(/ready-42/);
  }
}

/** Returns the terminal settings of a pseudo-terminal device, as `stty -g` prints them. */
function terminalSettings(device: string): string {
  return execFileSync("stty", ["-g", "-F", device], { encoding: "utf8" }).trim();
}

/** Lists the command lines of the processes in a container, as the Engine's `top` lists them. */
async function containerProcesses(name: string): Promise<string[]> {
  const top = await docker.getContainer(name).top({ ps_args: "-o pid,args" });
  return top.Processes.map((row: string[]) => row[row.length - 1] ?? "");
}

describe("terminal through connect", { skip: dockerSkip }, () => {
  const { cluster, node } = useCluster();
  let taskId = "";
  let containerName = "";
  let cliEnv: Record<string, string> = {};

  before(async () => {
    const submitted = await cluster.cli(["task", "submit", "-t", node(), "--", "sleep", "900"]);
    taskId = /\d{15,20}/.exec(submitted.stdout + submitted.stderr)?.[0] ?? "";
    assert.ok(taskId, `no task id in: ${submitted.stdout} ${submitted.stderr}`);
    await cluster.waitForStatus(taskId, "running");
    containerName = `kohakuriver-task-${taskId}`;
    cliEnv = {
      KOHAKURIVER_HOST: cluster.hostAddress,
      KOHAKURIVER_PORT: String(cluster.hostPort),
      KOHAKURIVER_HOME: join(cluster.dir, "home"),
    };
  });

  /** The container's processes once only its main process (`sleep 900`) is left, or a failure listing them. */
  async function waitForOnlyMainProcess(): Promise<void> {
    let processes: string[] = [];
    await waitFor(
      async () => {
        processes = await containerProcesses(containerName);
        return processes.length === 1;
      },
      5000,
      () => `processes left in the container: ${JSON.stringify(processes)}`,
    );
    assert.match(processes[0] ?? "", /sleep 900/);
  }

  it("resizes, exits and restores the terminal", async () => {
    const before = join(cluster.dir, "stty-before");
    const afterFile = join(cluster.dir, "stty-after");
    const session = new TerminalProcess(
      `stty -g > ${before}; ${process.execPath} ${CLI} connect ${taskId}; echo "connect-exit=$?"; stty -g > ${afterFile}; sleep 1`,
      cliEnv,
    );
    await session.waitForShell();
    const settingsBefore = readFileSync(before, "utf8").trim();
    assert.notEqual(
      terminalSettings(session.device),
      settingsBefore,
      "connect did not switch the terminal to raw mode",
    );

    session.resize(132, 40);
    await new Promise((resolve) => setTimeout(resolve, 300));
    session.write("stty size\r");
    await session.waitForOutput(/40 132/);

    // A background job of the shell must end with the session, too.
    session.write("sleep 777 &\r");
    session.write("exit\r");
    await session.waitForOutput(/connect-exit=\d+/);
    assert.match(session.output, /connect-exit=0/);
    await session.exited;
    assert.equal(readFileSync(afterFile, "utf8").trim(), settingsBefore);
    await waitForOnlyMainProcess();
  });

  it("ends on Ctrl-D", async () => {
    const session = new TerminalProcess(`${process.execPath} ${CLI} connect ${taskId}; echo "connect-exit=$?"`, cliEnv);
    await session.waitForShell();
    session.write("\u0004");
    await session.waitForOutput(/connect-exit=0/);
    await waitForOnlyMainProcess();
  });

  it("leaves no process after the client is killed", async () => {
    const session = new TerminalProcess(`exec ${process.execPath} ${CLI} connect ${taskId}`, cliEnv);
    await session.waitForShell();
    session.write("sleep 888 &\r");
    session.write("sleep 999\r");
    await waitFor(
      async () => (await containerProcesses(containerName)).some((line) => line.includes("sleep 999")),
      5000,
      "sleep 999 did not start in the container",
    );

    process.kill(session.pid, "SIGKILL");
    await session.exited;
    await waitForOnlyMainProcess();
  });

  it("runs piped stdin without a terminal", async () => {
    const child = spawn(process.execPath, [CLI, "connect", taskId], {
      env: { ...process.env, NO_COLOR: "1", ...cliEnv },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stdin.end("echo piped-$((3*4))\n");
    const [code] = (await once(child, "exit")) as [number | null];
    assert.equal(code, 0);
    assert.match(stdout, /piped-12/);
    await waitForOnlyMainProcess();
  });

  it("names the reason for a task that is not running", async () => {
    const done = await cluster.cli(["task", "submit", "-t", node(), "--wait", "--", "true"]);
    const finishedId = /\d{15,20}/.exec(done.stdout + done.stderr)?.[0] ?? "";
    await cluster.waitForStatus(finishedId, "completed");

    const result = await cluster.cli(["connect", finishedId]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, new RegExp(`task ${finishedId} is completed, not running`));
  });

  it("runner refuses a terminal without the cluster token", async () => {
    const nodes = await cluster.client.listNodes();
    const runnerUrl = nodes.find((entry) => entry.hostname === node())?.url ?? "";
    assert.ok(runnerUrl, "runner URL not found");
    const url = `${runnerUrl.replace(/^http/, "ws")}/ws/task/${taskId}/terminal`;

    for (const token of [undefined, "not-the-cluster-token"]) {
      const refusal = await openWebSocket(url, { token }).then(
        (socket) => {
          socket.terminate();
          return null;
        },
        (error: unknown) => error,
      );
      assert.ok(refusal instanceof WebSocketRefusedError, `runner accepted token ${String(token)}`);
      assert.equal(refusal.status, 401);
    }
  });
});

describe("terminal in an environment container", { skip: dockerSkip }, () => {
  const { cluster } = useCluster();
  const environment = useEnvironmentContainer(cluster, "e2e-shell");

  it("docker container shell runs a shell", async () => {
    const session = new TerminalProcess(
      `${process.execPath} ${CLI} docker container shell ${environment}; echo "shell-exit=$?"`,
      {
        KOHAKURIVER_HOST: cluster.hostAddress,
        KOHAKURIVER_PORT: String(cluster.hostPort),
        KOHAKURIVER_HOME: join(cluster.dir, "home"),
      },
    );
    await session.waitForShell();
    session.write("hostname\r");
    session.write("exit\r");
    await session.waitForOutput(/shell-exit=0/);
  });

  it("names a missing environment container", async () => {
    const result = await cluster.cli(["docker", "container", "shell", "no-such-environment-x"]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /kohakuriver-env-no-such-environment-x not found/);
  });
});
