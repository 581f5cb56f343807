/**
 * The terminal WebSocket's JSON text frames, shared by the host, the runner and the CLI.
 * Client to server: keystrokes and window sizes. Server to client: output text and errors. An empty
 * first `output` frame means the shell is ready.
 */

import { z } from "zod";

/** Terminal sizes are bounded so that a hostile frame cannot ask the kernel for an absurd window. */
const TerminalDimension = z.number().int().min(1).max(10_000);

export const TerminalInputFrameSchema = z.object({ type: z.literal("input"), data: z.string() });
export const TerminalResizeFrameSchema = z.object({
  type: z.literal("resize"),
  rows: TerminalDimension,
  cols: TerminalDimension,
});
export const TerminalClientFrameSchema = z.discriminatedUnion("type", [
  TerminalInputFrameSchema,
  TerminalResizeFrameSchema,
]);
export type TerminalClientFrame = z.infer<typeof TerminalClientFrameSchema>;

export const TerminalServerFrameSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("output"), data: z.string() }),
  z.object({ type: z.literal("error"), data: z.string() }),
]);
export type TerminalServerFrame = z.infer<typeof TerminalServerFrameSchema>;

export function terminalErrorFrame(message: string): string {
  return JSON.stringify({ type: "error", data: message } satisfies TerminalServerFrame);
}
