/**
 * Runs the benchmarks and prints one table. Usage (from the repository root, after setup):
 *   node --conditions=source --import tsx bench/run.ts [--samples 50] [--nodes 1000] [--tasks 10000]
 *     [--sync-rounds 5] [--sync-megabytes 200] [--forward-rounds 3] [--forward-megabytes 1000]
 *     [--terminal-samples 400] [--only latency|throughput|sync|forward|terminal]
 */

import { cpus, totalmem } from "node:os";
import { parseArgs } from "node:util";

import { measureEnvironmentSync } from "./environment-sync.js";
import { forwardSummary, mbps, measureForward } from "./forward.js";
import { measureTerminalEcho } from "./terminal.js";
import { measureLatency, summarize } from "./latency.js";
import { formatMs, formatRatio, median, percentile, printTable } from "./stats.js";
import { measureThroughput } from "./throughput.js";

const { values } = parseArgs({
  options: {
    samples: { type: "string", default: "50" },
    nodes: { type: "string", default: "1000" },
    tasks: { type: "string", default: "10000" },
    "sync-rounds": { type: "string", default: "5" },
    "sync-megabytes": { type: "string", default: "200" },
    "forward-rounds": { type: "string", default: "3" },
    "forward-megabytes": { type: "string", default: "1000" },
    "terminal-samples": { type: "string", default: "400" },
    only: { type: "string" },
  },
});

const log = (line: string): void => console.error(line);
const rows: string[][] = [];

console.log(
  `machine: ${cpus().length} x ${cpus()[0]?.model ?? "unknown CPU"}, ${(totalmem() / 1e9).toFixed(1)} GB memory, Node.js ${process.version}`,
);

if (values.only === undefined || values.only === "latency") {
  const latency = await measureLatency(Number(values.samples), log);
  const ours = summarize(latency.submitToRunning);
  const direct = summarize(latency.directCreateStart);
  const endToEnd = summarize(latency.endToEnd);
  const dockerRun = summarize(latency.dockerRunRm);
  rows.push(
    [
      "submit→running (median)",
      formatMs(ours.median),
      `create+start via Engine API ${formatMs(direct.median)}`,
      formatRatio(ours.median / direct.median),
      "≤ 1.25x",
    ],
    [
      "submit→running (p95)",
      formatMs(ours.p95),
      `create+start via Engine API ${formatMs(direct.p95)}`,
      formatRatio(ours.p95 / direct.p95),
      "",
    ],
    [
      "echo end to end (median)",
      formatMs(endToEnd.median),
      `docker run --rm ${formatMs(dockerRun.median)}`,
      formatRatio(endToEnd.median / dockerRun.median),
      "≤ 1.25x",
    ],
    [
      "echo end to end (p95)",
      formatMs(endToEnd.p95),
      `docker run --rm ${formatMs(dockerRun.p95)}`,
      formatRatio(endToEnd.p95 / dockerRun.p95),
      "",
    ],
  );
}

if (values.only === undefined || values.only === "throughput") {
  const throughput = await measureThroughput(Number(values.nodes), Number(values.tasks), log);
  rows.push(
    [
      `accepted submissions/s (${throughput.nodes} nodes)`,
      throughput.submissionsPerSecond.toFixed(0),
      "",
      "",
      "≥ 2000/s",
    ],
    [`placements/s (${throughput.nodes} nodes)`, throughput.placementsPerSecond.toFixed(0), "", "", "≥ 1000/s"],
  );
}

if (values.only === undefined || values.only === "sync") {
  const sync = await measureEnvironmentSync(Number(values["sync-rounds"]), Number(values["sync-megabytes"]) * 1e6, log);
  const ours = median(sync.syncMs);
  const baseline = median(sync.dockerLoadMs);
  rows.push([
    `environment sync, ${Math.round(sync.tarballBytes / 1e6)} MB tarball (median)`,
    formatMs(ours),
    `docker load -i ${formatMs(baseline)}`,
    formatRatio(ours / baseline),
    "≤ 1.1x",
  ]);
}

if (values.only === undefined || values.only === "forward") {
  const megabytes = Number(values["forward-megabytes"]);
  const forward = await measureForward(megabytes * 1e6, Number(values["forward-rounds"]), log);
  const upload = forwardSummary(forward.uploadForward, forward.uploadDirect);
  const download = forwardSummary(forward.downloadForward, forward.downloadDirect);
  rows.push(
    [
      `port forward, ${megabytes} MB to the container (median)`,
      mbps(upload.forward),
      `direct to its bridge address ${mbps(upload.direct)}`,
      formatRatio(upload.ratio),
      "≥ 0.5x",
    ],
    [
      `port forward, ${megabytes} MB from the container (median)`,
      mbps(download.forward),
      `direct from its bridge address ${mbps(download.direct)}`,
      formatRatio(download.ratio),
      "≥ 0.5x",
    ],
  );
}

if (values.only === undefined || values.only === "terminal") {
  const echo = await measureTerminalEcho(Number(values["terminal-samples"]), log);
  for (const [label, fraction] of [
    ["median", 0.5],
    ["p99", 0.99],
  ] as const) {
    const ours = percentile(echo.forwarded, fraction);
    const direct = percentile(echo.direct, fraction);
    rows.push([
      `terminal echo round trip (${label})`,
      formatMs(ours),
      `Engine exec with a TTY ${formatMs(direct)}`,
      formatRatio(ours / direct),
      label === "p99" ? "< 20 ms" : "",
    ]);
  }
}

console.log();
printTable(["measure", "KohakuRiver", "baseline (same run)", "ratio", "target"], rows);
