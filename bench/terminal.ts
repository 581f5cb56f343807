/**
 * Terminal echo round trip. A host and a runner run as separate processes, and one task container runs
 * `sleep`. The benchmark opens the host's terminal WebSocket for the task (the path of `kohakuriver
 * connect`: client → host → runner → Engine exec with a TTY) and types one character at a time at the
 * shell prompt, timing each from the input frame until the echoed character comes back.
 *
 * The baseline types the same characters into an Engine exec with a TTY on the same container, opened by
 * the benchmark process itself through the Engine API: what the runner does, without the two WebSocket hops.
 */

import type { Duplex } from "node:stream";

import type WebSocket from "ws";

import { openWebSocket } from "../packages/access/src/index.js";
import { TestCluster, docker } from "../test/e2e/harness.js";
import { percentile } from "./stats.js";

/** Characters typed per line before the line is erased with Ctrl-U, so the prompt stays short. */
const CHARACTERS_PER_LINE = 40;
const WARM_UP_CHARACTERS = 40;
/** Typed characters cycle through these letters, so every echo differs from the previous one. */
const LETTERS = "abcdefghijklmnopqrstuvwxyz";

export interface TerminalResult {
  /** Milliseconds per keystroke, through the host. */
  forwarded: number[];
  /** Milliseconds per keystroke, straight to an Engine exec. */
  direct: number[];
}

export async function measureTerminalEcho(samples: number, log: (line: string) => void): Promise<TerminalResult> {
  const cluster = new TestCluster({ host: { LOG_LEVEL: "warn" }, runner: { LOG_LEVEL: "warn" } });
  try {
    await cluster.startHost();
    const node = await cluster.startRunner(0);
    const { task_ids } = await cluster.client.submit({
      command: "sleep",
      arguments: ["3600"],
      targets: [node],
      required_cores: 0,
    });
    const taskId = task_ids[0] as string;
    await cluster.waitForStatus(taskId, "running");

    const socket = await openWebSocket(`ws://${cluster.hostAddress}:${cluster.hostPort}/ws/task/${taskId}/terminal`);
    const forwardedTyping = new Typist(
      (text) => socket.send(JSON.stringify({ type: "input", data: text })),
      (listener) => socket.on("message", (data: Buffer) => listener(terminalOutput(data))),
    );
    const direct = await openDirectExec(`kohakuriver-task-${taskId}`);
    const directTyping = new Typist(
      (text) => direct.write(text),
      (listener) => direct.on("data", (data: Buffer) => listener(data.toString("utf8"))),
    );

    const result: TerminalResult = { forwarded: [], direct: [] };
    await forwardedTyping.type(WARM_UP_CHARACTERS);
    await directTyping.type(WARM_UP_CHARACTERS);
    // Alternating blocks of a line each even out drift in the machine's load between the two paths.
    while (result.forwarded.length < samples) {
      const count = Math.min(CHARACTERS_PER_LINE, samples - result.forwarded.length);
      result.forwarded.push(...(await forwardedTyping.type(count)));
      result.direct.push(...(await directTyping.type(count)));
    }
    log(
      `terminal: ${samples} keystrokes each way, p99 ${percentile(result.forwarded, 0.99).toFixed(2)} ms ` +
        `through the host, ${percentile(result.direct, 0.99).toFixed(2)} ms direct`,
    );
    closeQuietly(socket);
    direct.destroy();
    return result;
  } finally {
    await cluster.cleanup();
  }
}

/** Types characters one at a time into a shell and times each echo. */
class Typist {
  private output = "";
  private waiter: (() => void) | null = null;
  private next = 0;

  constructor(
    private readonly send: (text: string) => void,
    subscribe: (listener: (text: string) => void) => void,
  ) {
    subscribe((text) => {
      this.output += text;
      this.waiter?.();
    });
  }

  /** Types `count` characters, then erases the line; returns the round trip of each in milliseconds. */
  async type(count: number): Promise<number[]> {
    const times: number[] = [];
    for (let index = 0; index < count; index += 1) {
      const letter = LETTERS[this.next % LETTERS.length] as string;
      this.next += 1;
      this.output = "";
      const started = performance.now();
      this.send(letter);
      await this.until(() => this.output.includes(letter));
      times.push(performance.now() - started);
    }
    // Ctrl-U erases the typed line, so the next block starts at an empty prompt.
    this.output = "";
    this.send("\u0015");
    await new Promise((resolve) => setTimeout(resolve, 50));
    return times;
  }

  private until(done: () => boolean): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no echo within 10 s; output so far: ${this.output}`)), 10_000);
      this.waiter = () => {
        if (!done()) return;
        clearTimeout(timer);
        this.waiter = null;
        resolve();
      };
    });
  }
}

function terminalOutput(data: Buffer): string {
  const frame = JSON.parse(data.toString("utf8")) as { type: string; data: string };
  return frame.type === "output" ? frame.data : "";
}

/** Opens /bin/sh in an Engine exec with a TTY, as the runner does, and waits for its first prompt. */
async function openDirectExec(containerName: string): Promise<Duplex> {
  const exec = await docker.getContainer(containerName).exec({
    Cmd: ["/bin/sh"],
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    Tty: true,
  });
  const stream = (await exec.start({ hijack: true, stdin: true, Tty: true } as never)) as unknown as Duplex;
  await new Promise((resolve) => stream.once("data", resolve));
  return stream;
}

function closeQuietly(socket: WebSocket): void {
  socket.send(JSON.stringify({ type: "input", data: "exit\r" }));
  socket.close();
}
