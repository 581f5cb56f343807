/**
 * A Kysely plugin that makes SQLite's 64-bit integers safe to use in JavaScript.
 *
 * better-sqlite3 runs with safe integers on, so every INTEGER value arrives as a bigint and no snowflake
 * id is rounded on the way. This plugin then turns id columns into decimal strings and every other
 * bigint into a number. PostgreSQL rows pass through unchanged because pg returns int8 as a string and
 * never produces bigints.
 */

import type {
  KyselyPlugin,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  QueryResult,
  RootOperationNode,
  UnknownRow,
} from "kysely";

import { ID_COLUMNS } from "./database.js";

export class Int64ResultPlugin implements KyselyPlugin {
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    return args.node;
  }

  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    for (const row of args.result.rows) {
      convertRow(row);
    }
    return args.result;
  }
}

function convertRow(row: UnknownRow): void {
  for (const column of Object.keys(row)) {
    const value = row[column];
    if (typeof value !== "bigint") continue;

    if (ID_COLUMNS.has(column)) {
      row[column] = value.toString();
      continue;
    }

    const number = Number(value);
    if (!Number.isSafeInteger(number)) {
      throw new RangeError(`Column ${column} contains ${value}, which exceeds JavaScript's safe integer range`);
    }
    row[column] = number;
  }
}
