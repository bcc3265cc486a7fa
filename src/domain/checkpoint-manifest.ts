import { createHash } from "node:crypto";

/** Largest chunk of a checkpoint copy one request carries (the relay buffers at most one per transfer). */
export const CHECKPOINT_CHUNK_BYTES = 1_048_576;
/** Content type of a checkpoint chunk's bytes (its own, so no other route's octet-stream parser clashes). */
export const CHUNK_CONTENT_TYPE = "application/vnd.zumbido.chunk";
/** Header carrying a chunk's sha256 (lower-case hex), both ways. */
export const CHUNK_SHA_HEADER = "x-zumbido-sha256";
/** Most files a checkpoint copy carries. */
export const MAX_MANIFEST_FILES = 10_000;
/** Longest relative path of a file in a checkpoint, characters. */
export const MAX_MANIFEST_PATH = 1000;

/** A checkpoint folder's content, as the source node lists it and the destination verifies it. */
export interface ManifestFile {
  /** Relative path with "/" separators, never absolute, never "..". */
  path: string;
  size: number;
  /** Lower-case hex sha256 of the file's bytes. */
  sha256: string;
}

/** The sha256 of a manifest, as both ends compute it (files in the listed order). */
export function manifestDigest(files: readonly ManifestFile[]): string {
  const canon = JSON.stringify(files.map((f) => [f.path, f.size, f.sha256]));
  return createHash("sha256").update(canon).digest("hex");
}

/** Why a manifest path is unsafe to write under a folder, or null when it is a plain relative path. */
export function manifestPathProblem(path: string): string | null {
  if (path.length === 0 || path.length > MAX_MANIFEST_PATH)
    return `a path is 1 to ${MAX_MANIFEST_PATH} characters`;
  if (path.startsWith("/") || path.includes("\\") || path.includes("\0"))
    return `"${path.slice(0, 80)}" is not a relative path with "/" separators`;
  if (path.split("/").some((s) => s === "" || s === "." || s === ".."))
    return `"${path.slice(0, 80)}" has an empty, "." or ".." segment`;
  return null;
}
