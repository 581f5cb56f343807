#!/usr/bin/env node
import { runCli } from "../dist/main.js";

// A reader that closes the pipe early (`kohakuriver task logs ID | head`) ends the output. Exit quietly
// with the status a shell reports for a process ended by SIGPIPE (128 + 13), as `cat` would have.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error) => {
    if (error.code !== "EPIPE") throw error;
    process.exit(141);
  });
}

process.exitCode = await runCli(process.argv.slice(2));

// The command has finished, a daemon's graceful stop included. A stopped runner leaves its containers
// running, and the Engine streams it followed for them (logs, waits) may still hold the event loop, so the
// process exits on its own after a short grace period for output still being written.
setTimeout(() => process.exit(), 3000).unref();
