/**
 * The host's environment API against the real Docker Engine: setup containers, tarballs, downloads and the
 * default environment at start. Every container and image is named after this run's id and removed after.
 */

import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import { createLogger } from "@kohakuriver/common";
import Docker from "dockerode";

import { resolveHostConfig } from "../config.js";
import { startHost, type HostHandle } from "../host.js";

const SOCKET = "/var/run/docker.sock";
const BASE_IMAGE = "kohakuriver/kohakuriver-base:base";
const UNREACHABLE_IMAGE = "127.0.0.1:1/kohakuriver-test/unreachable:latest";
const docker = new Docker({ socketPath: SOCKET });

async function baseImagePresent(): Promise<boolean> {
  try {
    await docker.getImage(BASE_IMAGE).inspect();
    return true;
  } catch {
    return false;
  }
}

const skip =
  process.env.CI !== "true" && !(existsSync(SOCKET) && (await baseImagePresent()))
    ? `no Docker Engine at ${SOCKET} or no ${BASE_IMAGE} (scripts/build-base-image.sh builds it)`
    : false;

describe("host environments on Docker", { skip }, () => {
  const id = Math.random().toString(36).slice(2, 8);
  const environment = `hostenv-${id}`;
  const legacy = `legacy-${id}`;
  const bootEnvironment = `boot-${id}`;
  let dataDir: string;
  let host: HostHandle;

  async function api(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const response = await fetch(`${host.url}${path}`, {
      method,
      headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const buffer = Buffer.from(await response.arrayBuffer());
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(buffer.toString("utf8")) as Record<string, unknown>;
    } catch {
      // Binary body (a tarball).
    }
    return { status: response.status, headers: response.headers, buffer, json };
  }

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "kr-host-env-"));
    host = await startHost({
      config: resolveHostConfig({
        HOST_BIND_IP: "127.0.0.1",
        HOST_PORT: 0,
        HOST_SSH_PROXY_PORT: 0,
        DB_FILE: join(dataDir, "kohakuriver.db"),
        SHARED_DIR: join(dataDir, "shared"),
        DEFAULT_CONTAINER_BOOTSTRAP: false,
        ENV_CONTAINER_CPU_LIMIT: 0.5,
        ENV_CONTAINER_MEM_LIMIT: 0.25,
        TARBALL_KEEP_COUNT: 2,
      }),
      logger: createLogger({ name: "host", level: "silent" }),
    });
  });

  after(async () => {
    await host?.close();
    for (const name of [
      `kohakuriver-env-${environment}`,
      legacy,
      `kohakuriver-env-${legacy}`,
      `kohakuriver-env-${bootEnvironment}`,
    ]) {
      await docker
        .getContainer(name)
        .remove({ force: true })
        .catch(() => undefined);
    }
    for (const name of [environment, legacy, bootEnvironment]) {
      await docker
        .getImage(`kohakuriver/${name}:base`)
        .remove({ force: true })
        .catch(() => undefined);
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("create applies CPU and memory fractions", async () => {
    const created = await api("POST", "/api/docker/host/create", {
      image_name: BASE_IMAGE,
      container_name: environment,
    });
    assert.equal(created.status, 200, JSON.stringify(created.json));
    assert.equal(created.json.container_name, `kohakuriver-env-${environment}`);

    const info = await docker.getContainer(`kohakuriver-env-${environment}`).inspect();
    assert.equal(info.State.Running, true);
    assert.equal(info.HostConfig.NanoCpus, Math.floor(cpus().length * 0.5 * 1e9));
    assert.equal(info.HostConfig.Memory, Math.floor(totalmem() * 0.25));

    const listed = await api("GET", "/api/docker/host/containers");
    const entries = listed.json as unknown as Array<{ env_name: string; image: string; status: string }>;
    const entry = entries.find((item) => item.env_name === environment);
    assert.equal(entry?.image, BASE_IMAGE);
    assert.equal(entry?.status, "running");
  });

  it("create rejects duplicates and bad input", async () => {
    const duplicate = await api("POST", "/api/docker/host/create", {
      image_name: BASE_IMAGE,
      container_name: environment,
    });
    assert.equal(duplicate.status, 409);

    const badName = await api("POST", "/api/docker/host/create", {
      image_name: BASE_IMAGE,
      container_name: "bad name!",
    });
    assert.equal(badName.status, 400);
    assert.match(String(badName.json.detail), /container_name/);

    const unpullable = await api("POST", "/api/docker/host/create", {
      image_name: UNREACHABLE_IMAGE,
      container_name: `${environment}-x`,
    });
    assert.equal(unpullable.status, 400);
    assert.equal(unpullable.json.field, "image_name");
    assert.match(String(unpullable.json.detail), /failed to pull image 127\.0\.0\.1:1\/.*connection refused/);
  });

  it("stop, start and unknown names", async () => {
    assert.equal((await api("POST", `/api/docker/host/stop/${environment}`)).status, 200);
    assert.equal((await docker.getContainer(`kohakuriver-env-${environment}`).inspect()).State.Running, false);
    assert.equal((await api("POST", `/api/docker/host/start/${environment}`)).status, 200);
    assert.equal((await docker.getContainer(`kohakuriver-env-${environment}`).inspect()).State.Running, true);

    const unknown = await api("POST", `/api/docker/host/stop/nothing-${id}`);
    assert.equal(unknown.status, 404);
    assert.match(String(unknown.json.detail), /kohakuriver docker container create/);
  });

  it("create_tar publishes and prunes", async () => {
    const timestamps: number[] = [];
    for (let round = 0; round < 3; round += 1) {
      const published = await api("POST", `/api/docker/create_tar/${environment}`);
      assert.equal(published.status, 200, JSON.stringify(published.json));
      timestamps.push(Number(published.json.timestamp));
    }
    assert.ok(timestamps[0]! < timestamps[1]!, String(timestamps));
    assert.ok(timestamps[1]! < timestamps[2]!, String(timestamps));
    // Publishing restarts a container that was running.
    assert.equal((await docker.getContainer(`kohakuriver-env-${environment}`).inspect()).State.Running, true);

    const image = await docker.getImage(`kohakuriver/${environment}:base`).inspect();
    assert.equal(image.Config.Labels?.["kohakuriver.environment_timestamp"], String(timestamps[2]));

    const list = await api("GET", "/api/docker/list");
    const entry = list.json[environment] as { latest_timestamp: number; all_versions: Array<{ timestamp: number }> };
    assert.equal(entry.latest_timestamp, timestamps[2]);
    assert.deepEqual(
      entry.all_versions.map((version) => version.timestamp),
      [timestamps[2], timestamps[1]],
    );
  });

  it("download serves whole files and ranges", async () => {
    const whole = await api("GET", `/api/docker/container/${environment}`);
    assert.equal(whole.status, 200);
    assert.equal(whole.headers.get("content-type"), "application/x-tar");
    assert.equal(Number(whole.headers.get("content-length")), whole.buffer.length);
    assert.ok(whole.buffer.length > 1000);

    const tail = await api("GET", `/api/docker/container/${environment}`, undefined, { range: "bytes=1000-" });
    assert.equal(tail.status, 206);
    assert.equal(tail.headers.get("content-range"), `bytes 1000-${whole.buffer.length - 1}/${whole.buffer.length}`);
    assert.ok(tail.buffer.equals(whole.buffer.subarray(1000)));

    const beyond = await api("GET", `/api/docker/container/${environment}`, undefined, {
      range: `bytes=${whole.buffer.length}-`,
    });
    assert.equal(beyond.status, 416);

    const missing = await api("GET", `/api/docker/container/nothing-${id}`);
    assert.equal(missing.status, 404);
    const invalid = await api("GET", "/api/docker/container/..%2Fetc");
    assert.equal(invalid.status, 400);
  });

  it("delete removes every tarball", async () => {
    const deleted = await api("DELETE", `/api/docker/container/${environment}`);
    assert.equal(deleted.status, 200);
    assert.equal((deleted.json.deleted as string[]).length, 2);
    assert.equal((await api("DELETE", `/api/docker/container/${environment}`)).status, 404);
    assert.equal((await api("GET", "/api/docker/list")).json[environment], undefined);
  });

  it("migrate renames a legacy container", async () => {
    await docker.createContainer({
      name: legacy,
      Image: BASE_IMAGE,
      Entrypoint: ["sleep"],
      Cmd: ["infinity"],
      Labels: { "kohakuriver.test": "host-environments" },
    });
    const migrated = await api("POST", `/api/docker/host/migrate/${legacy}`);
    assert.equal(migrated.status, 200, JSON.stringify(migrated.json));
    assert.equal(
      (await docker.getContainer(`kohakuriver-env-${legacy}`).inspect()).Config.Image,
      `kohakuriver/${legacy}:base`,
    );
    await assert.rejects(docker.getContainer(legacy).inspect());

    const prefixed = await api("POST", `/api/docker/host/migrate/kohakuriver-env-${legacy}`);
    assert.equal(prefixed.status, 400);
  });

  it("delete removes the container", async () => {
    assert.equal((await api("POST", `/api/docker/host/delete/${environment}`)).status, 200);
    await assert.rejects(docker.getContainer(`kohakuriver-env-${environment}`).inspect());
  });

  it("start bootstraps the default environment", async () => {
    const bootDir = join(dataDir, "boot");
    const bootHost = await startHost({
      config: resolveHostConfig({
        HOST_BIND_IP: "127.0.0.1",
        HOST_PORT: 0,
        HOST_SSH_PROXY_PORT: 0,
        DB_FILE: join(bootDir, "kohakuriver.db"),
        SHARED_DIR: join(bootDir, "shared"),
        DEFAULT_CONTAINER_NAME: bootEnvironment,
        // Cannot be pulled, so the host falls back to the locally built base image.
        INITIAL_BASE_IMAGE: UNREACHABLE_IMAGE,
      }),
      logger: createLogger({ name: "host", level: "silent" }),
    });
    try {
      const deadline = Date.now() + 60_000;
      let list: Record<string, unknown> = {};
      while (Date.now() < deadline) {
        list = (await (await fetch(`${bootHost.url}/api/docker/list`)).json()) as Record<string, unknown>;
        if (list[bootEnvironment] !== undefined) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      assert.ok(list[bootEnvironment] !== undefined, "no tarball of the default environment appeared");
      const container = await docker.getContainer(`kohakuriver-env-${bootEnvironment}`).inspect();
      assert.equal(container.Config.Image, BASE_IMAGE);
    } finally {
      await bootHost.close();
    }
  });
});
