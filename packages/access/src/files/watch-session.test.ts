/** The change-watch session without Docker: a fake container whose Engine requests never finish. */

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { createLogger } from "@kohakuriver/common";
import type Docker from "dockerode";

import { bufferedAfterFlood } from "../flood.fixture.js";
import { runWatchSession } from "./watch.js";

const logger = createLogger({ name: "watch-test", level: "silent" });

describe("watch session invalid frames", () => {
  it("bounds replies to a client that never reads", async () => {
    const container = { infoArchive: () => new Promise(() => undefined) } as unknown as Docker.Container;
    // The client stops reading and sends one-byte text frames that are not JSON.
    const buffered = await bufferedAfterFlood({
      startSession: (socket) => {
        void runWatchSession({ container, socket, logger, label: "task 1", paths: "/root" });
      },
      frame: () => "x",
      frameCount: 100_000,
    });

    // At most the reply limit (1 MiB) and one more reply.
    assert.ok(buffered <= 1024 * 1024 + 4096, `${buffered} bytes of replies are buffered`);
  });
});
