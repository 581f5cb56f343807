/**
 * Binary frames of a port-forward session, as the original KohakuRiver clients send them: an 8-byte
 * big-endian header (struct format `>BBIH`: type u8, proto u8, client_id u32, port u16) followed by the
 * payload. One WebSocket carries many forwarded connections, identified by client_id, which the client
 * assigns. Text messages are used only to set the session up: "CONNECTED", or "Error: …" before a close.
 *
 * Plain Uint8Array and DataView keep this module free of Node.js APIs; a Buffer passes wherever a
 * Uint8Array is expected.
 */

import { z } from "zod";

export const TUNNEL_HEADER_BYTES = 8;

export const TunnelFrameType = {
  /** Toward the container: open a connection to `port`. No payload. */
  CONNECT: 1,
  /** From the runner: the connection is open. No payload. */
  CONNECTED: 2,
  /** Both ways: a chunk of a TCP stream or one UDP datagram. */
  DATA: 3,
  /** Both ways: the connection is closed (or the sender ended its stream). No payload. */
  CLOSE: 4,
  /** From the runner: the connection failed or was refused; the payload is UTF-8 text. */
  ERROR: 5,
  /** Toward the runner: a liveness check; the runner replies with PONG for the same client id. */
  PING: 6,
  PONG: 7,
} as const;
export type TunnelFrameType = (typeof TunnelFrameType)[keyof typeof TunnelFrameType];

export const TunnelProto = { TCP: 0, UDP: 1 } as const;
export type TunnelProto = (typeof TunnelProto)[keyof typeof TunnelProto];

/** The session's text message once the runner is ready for frames. */
export const TUNNEL_READY_MESSAGE = "CONNECTED";
/** Prefix of the session's text message when it cannot start; the socket is closed after it. */
export const TUNNEL_ERROR_PREFIX = "Error: ";

export function tunnelErrorMessage(text: string): string {
  return `${TUNNEL_ERROR_PREFIX}${text}`;
}

export interface TunnelFrame {
  type: TunnelFrameType;
  proto: TunnelProto;
  clientId: number;
  port: number;
  /** The bytes after the header: a view into the decoded message, not a copy. */
  payload: Uint8Array;
}

export type TunnelFrameHeader = Omit<TunnelFrame, "payload">;

export type DecodedTunnelFrame = { ok: true; frame: TunnelFrame } | { ok: false; error: string };

const FRAME_TYPES = new Set<number>(Object.values(TunnelFrameType));
const PROTOS = new Set<number>(Object.values(TunnelProto));

/** Builds one frame: the header followed by a copy of `payload`. */
export function encodeTunnelFrame(header: TunnelFrameHeader, payload?: Uint8Array | string): Uint8Array {
  const body = typeof payload === "string" ? new TextEncoder().encode(payload) : (payload ?? new Uint8Array(0));
  const frame = new Uint8Array(TUNNEL_HEADER_BYTES + body.length);
  writeTunnelHeader(frame, header);
  frame.set(body, TUNNEL_HEADER_BYTES);
  return frame;
}

/**
 * Writes a header into the first 8 bytes of `target`, so that a sender can build a DATA frame in one
 * allocation. Throws RangeError on a value out of range.
 */
export function writeTunnelHeader(target: Uint8Array, header: TunnelFrameHeader): void {
  if (!Number.isInteger(header.clientId) || header.clientId < 0 || header.clientId > 0xffff_ffff) {
    throw new RangeError(`invalid client id ${header.clientId}: use an integer from 0 to 4294967295`);
  }
  if (!Number.isInteger(header.port) || header.port < 0 || header.port > 0xffff) {
    throw new RangeError(`invalid port ${header.port}: use an integer from 0 to 65535`);
  }
  const view = new DataView(target.buffer, target.byteOffset, TUNNEL_HEADER_BYTES);
  view.setUint8(0, header.type);
  view.setUint8(1, header.proto);
  view.setUint32(2, header.clientId);
  view.setUint16(6, header.port);
}

/** Parses one binary message. A malformed one yields `{ok: false}` with the reason and never throws. */
export function decodeTunnelFrame(data: Uint8Array): DecodedTunnelFrame {
  if (data.length < TUNNEL_HEADER_BYTES) {
    return { ok: false, error: `frame of ${data.length} bytes is shorter than the ${TUNNEL_HEADER_BYTES}-byte header` };
  }
  const view = new DataView(data.buffer, data.byteOffset, TUNNEL_HEADER_BYTES);
  const type = view.getUint8(0);
  const proto = view.getUint8(1);
  if (!FRAME_TYPES.has(type)) return { ok: false, error: `unknown frame type ${type}` };
  if (!PROTOS.has(proto)) return { ok: false, error: `unknown protocol ${proto} (0 is TCP, 1 is UDP)` };
  return {
    ok: true,
    frame: {
      type: type as TunnelFrameType,
      proto: proto as TunnelProto,
      clientId: view.getUint32(2),
      port: view.getUint16(6),
      payload: data.subarray(TUNNEL_HEADER_BYTES),
    },
  };
}

/** Path parameters of the forward WebSockets on the host and the runner. */
export const ForwardParamsSchema = z.object({
  task_id: z.string().regex(/^\d{1,20}$/, "must be a decimal task id such as 7263012345678901248"),
  port: z.coerce
    .number()
    .int("must be a whole number")
    .min(1, "must be a port from 1 to 65535")
    .max(65535, "must be a port from 1 to 65535"),
});

export const ForwardQuerySchema = z.object({
  proto: z.enum(["tcp", "udp"], { error: "must be tcp or udp" }).default("tcp"),
});
export type ForwardProtocol = z.infer<typeof ForwardQuerySchema>["proto"];
