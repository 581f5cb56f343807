/** Response schemas of the error statuses that user-facing routes return, for validation and OpenAPI. */

import { ErrorBodySchema } from "@kohakuriver/api";

export const ERROR_RESPONSES = {
  400: ErrorBodySchema,
  401: ErrorBodySchema,
  403: ErrorBodySchema,
  404: ErrorBodySchema,
  409: ErrorBodySchema,
  429: ErrorBodySchema,
  503: ErrorBodySchema,
};
