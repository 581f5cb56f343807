import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { VpsCreateSchema } from "./vps.js";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq4bXc2cdCQtDyhDMpOE0jS1bEF1ZgbYP0J4iQvPuGx user@laptop";

function issuesOf(body: Record<string, unknown>): string[] {
  const result = VpsCreateSchema.safeParse(body);
  return result.success ? [] : result.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
}

describe("VpsCreateSchema", () => {
  it("defaults to SSH disabled", () => {
    const parsed = VpsCreateSchema.parse({});
    assert.equal(parsed.ssh_key_mode, "disabled");
    assert.equal(parsed.required_cores, 1);
    assert.equal(parsed.vps_backend, "docker");
  });

  it("accepts an uploaded key and trims it", () => {
    assert.equal(VpsCreateSchema.parse({ ssh_key_mode: "upload", ssh_public_key: `${KEY}\n` }).ssh_public_key, KEY);
  });

  it("rejects bad key modes and keys", () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ ssh_key_mode: "password" }, /^ssh_key_mode: must be one of disabled, none, upload or generate/],
      [{ ssh_key_mode: "upload" }, /^ssh_public_key: is required when ssh_key_mode is 'upload'/],
      [{ ssh_key_mode: "upload", ssh_public_key: "hello" }, /^ssh_public_key: must be one OpenSSH public key line/],
      [{ ssh_key_mode: "upload", ssh_public_key: `${KEY}\n${KEY}` }, /^ssh_public_key: must be one OpenSSH/],
      [{ ssh_key_mode: "upload", ssh_public_key: `command="id" ${KEY}` }, /^ssh_public_key: must be one OpenSSH/],
      [{ ssh_key_mode: "generate", ssh_public_key: KEY }, /^ssh_public_key: is only used with ssh_key_mode 'upload'/],
      [{ name: "two\nlines" }, /^name: must be one line of text/],
      [{ name: "\u001b]0;title\u0007" }, /^name: must be one line of text without control characters/],
      [{ vps_backend: "xen" }, /^vps_backend: must be docker or qemu/],
    ];
    for (const [body, expected] of cases) {
      const issues = issuesOf(body);
      assert.ok(
        issues.some((issue) => expected.test(issue)),
        `${JSON.stringify(body)} gave ${JSON.stringify(issues)}`,
      );
    }
  });
});
