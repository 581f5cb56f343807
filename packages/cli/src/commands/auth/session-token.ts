/** Turns a fresh login session into an API token for the CLI, stored in auth.json. */

import { HostClient, type UserResponse } from "@kohakuriver/api";

import { writeCredentials } from "../../credentials.js";
import { promptLine } from "../../prompt.js";
import type { CliIo } from "../../context.js";

/**
 * Creates an API token named `tokenName` with the session, ends the session and stores the token.
 * Returns the path of auth.json.
 */
export async function storeTokenFromSession(
  io: CliIo,
  url: string,
  login: { session: string; user: UserResponse },
  tokenName: string,
): Promise<string> {
  const withSession = new HostClient({ baseUrl: url, session: login.session });
  const created = await withSession.createToken(tokenName);
  // The session only served to create the token; end it so that it does not stay valid for days.
  await withSession.logout().catch(() => undefined);

  return writeCredentials(io.env, {
    token: created.token,
    token_id: created.id,
    token_name: created.name,
    username: login.user.username,
    role: login.user.role,
    url,
  });
}

/** Returns the username and password from the options, KOHAKURIVER_PASSWORD, or the terminal. */
export async function readLogin(
  io: CliIo,
  options: { username?: string; password?: string },
): Promise<{ username: string; password: string }> {
  const username = options.username ?? (await promptLine("username: ", io.stderr, "--username", false));
  const password =
    options.password ?? io.env.KOHAKURIVER_PASSWORD ?? (await promptLine("password: ", io.stderr, "--password", true));
  return { username, password };
}
