/** Environments: setup containers on the host, published tarballs and the images on runners (/api/docker/…). */
import { z } from "zod";

import { ENVIRONMENT_NAME_MAX_LENGTH, environmentNameProblem } from "../naming.js";

/** An environment name in a path or body. Its error message describes a valid name. */
export const EnvironmentNameSchema = z
  .string()
  .max(ENVIRONMENT_NAME_MAX_LENGTH, `must be at most ${ENVIRONMENT_NAME_MAX_LENGTH} characters`)
  .superRefine((name, context) => {
    const problem = environmentNameProblem(name);
    if (problem !== null) context.addIssue({ code: "custom", message: `'${name}' ${problem}` });
  });

export const EnvironmentParamsSchema = z.object({ env_name: EnvironmentNameSchema });

/** An image reference such as ubuntu:22.04 or registry.example:5000/team/image:tag. */
export const ImageReferenceSchema = z
  .string()
  .min(1, "must not be empty")
  .max(500)
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._\-/:@]*$/,
    "must be an image reference such as ubuntu:22.04 or registry.example:5000/team/image:tag",
  );

/** One `kohakuriver-env-*` container on the host (GET /api/docker/host/containers). */
export const EnvironmentContainerSchema = z.object({
  id: z.string(),
  name: z.string(),
  env_name: z.string(),
  /** The image's first tag, its short id when untagged, or "<missing>". */
  image: z.string(),
  status: z.string(),
  created: z.string(),
});
export type EnvironmentContainer = z.infer<typeof EnvironmentContainerSchema>;
export const EnvironmentContainerListSchema = z.array(EnvironmentContainerSchema);

/** Body of POST /api/docker/host/create. */
export const EnvironmentCreateRequestSchema = z.object({
  image_name: ImageReferenceSchema,
  container_name: EnvironmentNameSchema,
});
export type EnvironmentCreateRequest = z.input<typeof EnvironmentCreateRequestSchema>;

export const EnvironmentCreateResponseSchema = z.object({
  message: z.string(),
  container_id: z.string(),
  container_name: z.string(),
  env_name: z.string(),
  status: z.string(),
});
export type EnvironmentCreateResponse = z.infer<typeof EnvironmentCreateResponseSchema>;

/** Response of POST /api/docker/create_tar/{env_name}. */
export const TarballCreateResponseSchema = z.object({
  message: z.string(),
  tarball_path: z.string(),
  env_name: z.string(),
  /** New: the tarball's Unix timestamp and size. */
  timestamp: z.number(),
  size_bytes: z.number(),
});
export type TarballCreateResponse = z.infer<typeof TarballCreateResponseSchema>;

export const TarballVersionSchema = z.object({
  timestamp: z.number(),
  tarball: z.string(),
  size_bytes: z.number(),
});

/** Response of GET /api/docker/list: per environment, its tarballs newest first. */
export const TarballListSchema = z.record(
  z.string(),
  z.object({
    latest_timestamp: z.number(),
    latest_tarball: z.string(),
    all_versions: z.array(TarballVersionSchema),
  }),
);
export type TarballList = z.infer<typeof TarballListSchema>;

/** One image on a runner (the runner's GET /api/docker/images). */
export const RunnerImageSchema = z.object({
  id: z.string(),
  tags: z.array(z.string()),
  created: z.string(),
  size: z.number(),
});
export type RunnerImage = z.infer<typeof RunnerImageSchema>;
export const RunnerImageListSchema = z.object({ images: z.array(RunnerImageSchema) });

/** Response of the host's GET /api/docker/images: the images of every online node. */
export const NodeImageListSchema = z.object({
  nodes: z.array(
    z.object({
      hostname: z.string(),
      images: z.array(RunnerImageSchema),
      /** Reason the node's images could not be read (offline, unreachable), or null when they were read. */
      error: z.string().nullable(),
    }),
  ),
});
export type NodeImageList = z.infer<typeof NodeImageListSchema>;

/** Response of the runner's POST /api/docker/sync/{env_name}. */
export const SyncResponseSchema = z.object({
  message: z.string(),
  synced: z.boolean(),
  source: z.string().optional(),
});
