/**
 * Measures environment sync against `docker load`. The runner's EnvironmentSync (newest-tarball lookup,
 * timestamp check, the file streamed into the Engine API) and `docker load -i` load the same 200 MB
 * tarball in turn. The image is removed before every run, so each one imports all layers.
 */

import { execFile } from "node:child_process";
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";

import { LABEL_ENVIRONMENT_TIMESTAMP, environmentImageTag, tarballFileName } from "@kohakuriver/api";
import { createLogger } from "@kohakuriver/common";
import { resolveRunnerConfig } from "@kohakuriver/runner";
import Docker from "dockerode";

import { DockerDriver } from "../packages/runner/src/driver/docker-driver.js";
import { EnvironmentSync } from "../packages/runner/src/environments/environment-sync.js";

const run = promisify(execFile);
const SOCKET = "/var/run/docker.sock";
const BASE_IMAGE = "kohakuriver/kohakuriver-base:base";

export interface SyncMeasurement {
  tarballBytes: number;
  syncMs: number[];
  dockerLoadMs: number[];
}

export async function measureEnvironmentSync(
  rounds: number,
  payloadBytes: number,
  log: (line: string) => void,
): Promise<SyncMeasurement> {
  const docker = new Docker({ socketPath: SOCKET });
  const environment = `bench-${Math.random().toString(36).slice(2, 8)}`;
  const tag = environmentImageTag(environment);
  const directory = mkdtempSync(join(tmpdir(), "kr-bench-sync-"));
  const tarballs = join(directory, "shared", "kohakuriver-containers");
  mkdirSync(tarballs, { recursive: true });
  const builder = `kr-bench-${environment}`;

  try {
    log(`building a ${Math.round(payloadBytes / 1e6)} MB environment image`);
    const container = await docker.createContainer({
      name: builder,
      Image: BASE_IMAGE,
      Entrypoint: ["sh", "-c", `head -c ${payloadBytes} /dev/urandom > /payload`],
      Labels: { "kohakuriver.bench": "environment-sync" },
    });
    await container.start();
    await container.wait();
    const timestamp = Math.floor(Date.now() / 1000);
    await container.commit({
      repo: `kohakuriver/${environment}`,
      tag: "base",
      changes: `LABEL ${LABEL_ENVIRONMENT_TIMESTAMP}=${timestamp}`,
    });
    await container.remove({ force: true });

    const file = join(tarballs, tarballFileName(environment, timestamp));
    await pipeline(await docker.getImage(tag).get(), createWriteStream(file));
    const { size } = statSync(file);

    const sync = new EnvironmentSync({
      config: resolveRunnerConfig({
        SHARED_DIR: join(directory, "shared"),
        RUNNER_STATE_DIR: join(directory, "state"),
      }),
      driver: new DockerDriver({ socketPath: SOCKET }),
      hostUrl: "http://127.0.0.1:1",
      clusterToken: "unused",
      logger: createLogger({ name: "bench", level: "silent" }),
    });

    const syncMs: number[] = [];
    const dockerLoadMs: number[] = [];
    for (let round = 0; round < rounds; round += 1) {
      // Alternate the order, so neither side always runs on a warmer page cache.
      const order = round % 2 === 0 ? ["sync", "load"] : ["load", "sync"];
      for (const side of order) {
        await docker.getImage(tag).remove({ force: true });
        const started = performance.now();
        if (side === "sync") {
          const result = await sync.ensure(environment);
          if (!result.loaded) throw new Error("the sync did not load the tarball");
          syncMs.push(performance.now() - started);
        } else {
          await run("docker", ["load", "-q", "-i", file]);
          dockerLoadMs.push(performance.now() - started);
        }
      }
      log(
        `round ${round + 1}/${rounds}: sync ${syncMs.at(-1)?.toFixed(0)} ms, docker load ${dockerLoadMs.at(-1)?.toFixed(0)} ms`,
      );
    }
    return { tarballBytes: size, syncMs, dockerLoadMs };
  } finally {
    await docker
      .getContainer(builder)
      .remove({ force: true })
      .catch(() => undefined);
    await docker
      .getImage(tag)
      .remove({ force: true })
      .catch(() => undefined);
    rmSync(directory, { recursive: true, force: true });
  }
}
