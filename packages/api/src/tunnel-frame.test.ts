import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  ForwardParamsSchema,
  ForwardQuerySchema,
  TUNNEL_HEADER_BYTES,
  TunnelFrameType,
  TunnelProto,
  decodeTunnelFrame,
  encodeTunnelFrame,
} from "./tunnel-frame.js";

describe("tunnel frame codec", () => {
  it("encodes the header big-endian", () => {
    const frame = encodeTunnelFrame(
      { type: TunnelFrameType.DATA, proto: TunnelProto.UDP, clientId: 0x01020304, port: 0x1f90 },
      new Uint8Array([0xaa, 0xbb]),
    );
    assert.deepEqual([...frame], [3, 1, 1, 2, 3, 4, 0x1f, 0x90, 0xaa, 0xbb]);
  });

  it("round-trips every frame type", () => {
    for (const type of Object.values(TunnelFrameType)) {
      const encoded = encodeTunnelFrame({ type, proto: TunnelProto.TCP, clientId: 4_294_967_295, port: 65535 }, "hi");
      const decoded = decodeTunnelFrame(encoded);
      assert.ok(decoded.ok, `type ${type} did not decode`);
      assert.equal(decoded.frame.type, type);
      assert.equal(decoded.frame.clientId, 4_294_967_295);
      assert.equal(decoded.frame.port, 65535);
      assert.equal(new TextDecoder().decode(decoded.frame.payload), "hi");
    }
  });

  it("decodes a header without payload", () => {
    const decoded = decodeTunnelFrame(encodeTunnelFrame({ type: 4, proto: 0, clientId: 7, port: 80 }));
    assert.ok(decoded.ok);
    assert.equal(decoded.frame.payload.length, 0);
  });

  it("decodes a frame inside a larger buffer", () => {
    const backing = Buffer.alloc(20, 0xff);
    const frame = encodeTunnelFrame({ type: 3, proto: 0, clientId: 9, port: 22 }, "abc");
    backing.set(frame, 5);
    const decoded = decodeTunnelFrame(backing.subarray(5, 5 + frame.length));
    assert.ok(decoded.ok);
    assert.equal(decoded.frame.clientId, 9);
    assert.equal(Buffer.from(decoded.frame.payload).toString(), "abc");
  });

  it("rejects a short header", () => {
    for (const length of [0, 1, TUNNEL_HEADER_BYTES - 1]) {
      const decoded = decodeTunnelFrame(new Uint8Array(length).fill(3));
      assert.equal(decoded.ok, false);
      assert.match(decoded.ok ? "" : decoded.error, /shorter than the 8-byte header/);
    }
  });

  it("rejects an unknown type", () => {
    for (const type of [0, 8, 255]) {
      const bytes = new Uint8Array(TUNNEL_HEADER_BYTES);
      bytes[0] = type;
      const decoded = decodeTunnelFrame(bytes);
      assert.equal(decoded.ok, false);
      assert.match(decoded.ok ? "" : decoded.error, new RegExp(`unknown frame type ${type}`));
    }
  });

  it("rejects an unknown protocol", () => {
    const bytes = new Uint8Array(TUNNEL_HEADER_BYTES);
    bytes[0] = TunnelFrameType.DATA;
    bytes[1] = 2;
    const decoded = decodeTunnelFrame(bytes);
    assert.equal(decoded.ok, false);
    assert.match(decoded.ok ? "" : decoded.error, /unknown protocol 2/);
  });

  it("rejects out-of-range header values when encoding", () => {
    assert.throws(() => encodeTunnelFrame({ type: 1, proto: 0, clientId: -1, port: 80 }), RangeError);
    assert.throws(() => encodeTunnelFrame({ type: 1, proto: 0, clientId: 1, port: 65536 }), RangeError);
  });
});

describe("forward request schemas", () => {
  it("accepts ports 1 to 65535", () => {
    assert.equal(ForwardParamsSchema.parse({ task_id: "42", port: "1" }).port, 1);
    assert.equal(ForwardParamsSchema.parse({ task_id: "42", port: "65535" }).port, 65535);
  });

  it("rejects invalid ports", () => {
    for (const port of ["0", "65536", "-1", "1.5", "http"]) {
      assert.equal(ForwardParamsSchema.safeParse({ task_id: "42", port }).success, false, `port ${port}`);
    }
  });

  it("defaults the protocol to tcp", () => {
    assert.equal(ForwardQuerySchema.parse({}).proto, "tcp");
    assert.equal(ForwardQuerySchema.parse({ proto: "udp" }).proto, "udp");
    assert.equal(ForwardQuerySchema.safeParse({ proto: "sctp" }).success, false);
  });
});
