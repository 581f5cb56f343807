import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import { DownloadError, downloadTarball } from "./tarball-download.js";

const FILE = "env-1800000000.tar";
const CONTENT = randomBytes(3 * 1024 * 1024);

interface ServedRequest {
  path: string;
  range: string | undefined;
  authorization: string | undefined;
}

describe("downloadTarball", () => {
  let server: Server;
  let url: string;
  let directory: string;
  const requests: ServedRequest[] = [];
  /** Bytes after which the next response is cut off, or null to send it whole. */
  let cutAfter: number | null = null;

  before(async () => {
    directory = mkdtempSync(join(tmpdir(), "kr-download-"));
    server = createServer((request, response) => {
      requests.push({
        path: request.url ?? "",
        range: request.headers.range,
        authorization: request.headers.authorization,
      });
      if (request.url !== `/api/docker/container/${FILE.replace(/\.tar$/, "")}`) {
        response.writeHead(404).end('{"detail":"not found"}');
        return;
      }
      const start = Number(/^bytes=(\d+)-$/.exec(request.headers.range ?? "")?.[1] ?? 0);
      const body = CONTENT.subarray(start);
      const headers: Record<string, string> = { "content-length": String(body.length) };
      if (start > 0) headers["content-range"] = `bytes ${start}-${CONTENT.length - 1}/${CONTENT.length}`;
      response.writeHead(start > 0 ? 206 : 200, headers);

      const limit = cutAfter;
      cutAfter = null;
      if (limit === null) {
        response.end(body);
        return;
      }
      // Send part of the body, then drop the connection as a network failure would.
      response.write(body.subarray(0, limit), () => setTimeout(() => response.socket?.destroy(), 50));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    await new Promise((resolve) => server.close(resolve));
    rmSync(directory, { recursive: true, force: true });
  });

  it("resumes an interrupted transfer with Range", async () => {
    requests.length = 0;
    cutAfter = 1024 * 1024;
    const target = join(directory, "resume");

    const path = await downloadTarball({
      hostUrl: url,
      clusterToken: "secret-token",
      fileName: FILE,
      directory: target,
    });

    assert.equal(path, join(target, FILE));
    assert.ok(readFileSync(path).equals(CONTENT), "downloaded file differs from the served one");
    assert.equal(existsSync(`${path}.partial`), false);
    assert.equal(requests.length, 2);
    assert.equal(requests[0]?.range, undefined);
    assert.equal(requests[1]?.range, `bytes=${1024 * 1024}-`);
    assert.equal(requests[1]?.authorization, "Bearer secret-token");
  });

  it("missing tarball fails at once", async () => {
    requests.length = 0;
    await assert.rejects(
      downloadTarball({
        hostUrl: url,
        clusterToken: "secret-token",
        fileName: "other-1800000000.tar",
        directory: join(directory, "missing"),
      }),
      (error: unknown) => error instanceof DownloadError && error.message.includes("other-1800000000.tar"),
    );
    assert.equal(requests.length, 1);
  });
});
