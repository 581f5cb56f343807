/** `kohakuriver task submit`: submit a command task (several with repeated -t), optionally waiting for it. */

import { Option, type Command } from "commander";

import { createClient, type CliRuntime } from "../../context.js";
import { runUntilInterrupted } from "../../interrupt.js";
import { collect } from "../../options.js";
import { plural } from "../../plural.js";
import { batchExitCode } from "./exit-code.js";
import { taskResultLine } from "./format.js";
import { buildSubmission, type SubmitOptions } from "./submission.js";
import { createTaskOutputPrinter } from "./task-output.js";
import { waitForTasks } from "./wait.js";

interface SubmitCommandOptions extends SubmitOptions {
  wait?: boolean;
  json?: boolean;
}

export function registerTaskSubmit(task: Command, runtime: CliRuntime): void {
  task
    .command("submit")
    .summary("submit a command task")
    .description(
      "Submit a command task. The words after -- run directly, without a shell: the first is the program " +
        "and the rest are its arguments, so they need no quoting. Use sh -c '...' for pipes and redirections.\n\n" +
        "Repeat -t to submit one task per target as a batch.",
    )
    .argument("[command...]", "program and arguments to run, after --")
    // Everything after the first command word belongs to the command, even words that look like options.
    .passThroughOptions()
    .option(
      "-t, --target <target>",
      "node to run on: host[:numa][::gpu,gpu], e.g. node1, node1:0, node1::0,1 (repeatable)",
      collect,
    )
    .option("-c, --cores <n>", "CPU cores to reserve; 0 means no limit (default: 1)")
    // Docker's name for the same limit, accepted so that `--cpus 2` works for Docker users.
    .addOption(new Option("--cpus <n>", "the same as --cores").hideHelp())
    .option(
      "-m, --memory <size>",
      "memory limit in bytes, or with a decimal K, M or G suffix (1G = 10^9 bytes) such as 512M or 4G",
    )
    .option("-g, --gpus <n>", "number of GPUs, placed automatically on a node that has them free")
    .option(
      "--container <env>",
      "prepared environment (container) to run in (default: the host's DEFAULT_CONTAINER_NAME)",
    )
    .option("--image <image>", "registry image to run instead of an environment, e.g. python:3.12-slim")
    .option("--privileged", "run the container privileged (needs the admin role when auth is on)")
    .option("--mount <spec>", "extra bind mount host_path:container_path[:ro] (repeatable)", collect)
    .option("-e, --env <key=value>", "environment variable for the task (repeatable)", collect)
    .option("--name <name>", "a name shown in task lists")
    .option("-w, --wait", "wait until the task finishes, print its output and exit with its exit code")
    .option("--json", "print the API response as JSON (with --wait, only the finished tasks, without their output)")
    .addHelpText(
      "after",
      "\nExamples:\n" +
        "  kohakuriver task submit --wait -- echo hello\n" +
        "  kohakuriver task submit -t node1::0,1 -c 8 -m 32G -- python train.py --epochs 10\n" +
        "  kohakuriver task submit -t node1 -t node2 -- sh -c 'hostname; nproc'\n" +
        "\nWith --wait the task's stdout goes to stdout and its stderr to stderr, followed by a result\n" +
        "line on stdout. One task's output is streamed while it runs: the logs are polled, so the order\n" +
        "of stdout lines relative to stderr lines is approximate. The output of a batch is printed per\n" +
        "task when that task finishes, under a header line '==> task ID on NODE <=='.\n" +
        "\nWith --wait the exit code is the task's: 0 when completed; when failed, its own exit code,\n" +
        "or 1 when it has none (it never started); 137 when killed; 1 when lost, stopped or rejected.\n" +
        "For a batch it is the first non-zero code in task order.",
    )
    .action(async (commandWords: string[], options: SubmitCommandOptions, command: Command) => {
      const { output } = runtime;
      const submission = buildSubmission(options, commandWords);
      const client = createClient(command, runtime);
      const response = await client.submit(submission);

      if (options.json === true && options.wait !== true) {
        output.json(response);
        return;
      }
      if (options.json !== true) {
        if (response.task_ids.length > 1)
          output.line(`submitted batch ${response.batch_id} with ${plural(response.task_ids.length, "task")}`);
        for (const taskId of response.task_ids) output.line(`submitted task ${taskId}`);
      }
      if (options.wait !== true) return;

      if (options.json === true) {
        const tasks = await runUntilInterrupted(runtime.io, (signal) =>
          waitForTasks(client, response.task_ids, { output, showProgress: false, signal }),
        );
        output.json(tasks);
        runtime.exitCode = batchExitCode(tasks);
        return;
      }

      const printer = createTaskOutputPrinter(client, response.task_ids, output);
      let tasks;
      try {
        tasks = await runUntilInterrupted(runtime.io, (signal) =>
          waitForTasks(client, response.task_ids, { output, showProgress: true, signal, onPoll: printer.onPoll }),
        );
      } finally {
        // The result line, or the error when waiting stops early, starts on a line of its own.
        printer.endLines();
      }
      for (const task of tasks) output.line(taskResultLine(task, output.colors));
      runtime.exitCode = batchExitCode(tasks);
    });
}
