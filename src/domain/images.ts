/**
 * Container image references and a site's image policy.
 *
 * A reference follows the OCI/distribution grammar: `[registry[:port]/]path[:tag][@sha256:digest]`,
 * e.g. `nvcr.io/nvidia/pytorch:24.08-py3`, `ubuntu`, `localhost/zumbido/demo:latest`.
 * Policy patterns are globs over references: `*` matches any run of characters (slashes included),
 * `?` one character. A pattern is tried against the reference as written and in its Docker-normalised
 * form (`ubuntu:22.04` is also `docker.io/library/ubuntu:22.04`), so `docker.io/library/*` covers
 * short names. A deny match always wins; a non-empty allowlist admits only what it matches.
 */

/** Longest image reference accepted, characters. */
export const MAX_IMAGE_REF = 400;
/** Longest policy pattern accepted, characters. */
export const MAX_IMAGE_PATTERN = 200;

const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const DOMAIN = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*(?::[0-9]{1,5})?`;
const PATH_COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const TAG = "[\\w][\\w.-]{0,127}";
const DIGEST = "sha256:[a-f0-9]{64}";
const REF = new RegExp(
  `^(?:(${DOMAIN})/)?(${PATH_COMPONENT}(?:/${PATH_COMPONENT})*)(?::(${TAG}))?(?:@(${DIGEST}))?$`,
);

/** A parsed image reference. */
export interface ImageRef {
  /** Registry host (and port) when the reference names one. */
  registry?: string;
  /** Repository path inside the registry. */
  path: string;
  tag?: string;
  digest?: string;
}

/** Splits a reference; returns null when it breaks the grammar. */
export function parseImageRef(ref: string): ImageRef | null {
  if (ref.length === 0 || ref.length > MAX_IMAGE_REF) return null;
  const m = REF.exec(ref);
  if (!m) return null;
  let registry = m[1];
  let path = m[2]!;
  // `foo/bar` names no registry (a registry has a dot or port, or is localhost); the regex may
  // have taken `foo` as one.
  if (registry !== undefined && !/[.:]/.test(registry) && registry !== "localhost") {
    if (!new RegExp(`^${PATH_COMPONENT}$`).test(registry)) return null;
    path = `${registry}/${path}`;
    registry = undefined;
  }
  if (`${registry ? registry + "/" : ""}${path}`.length > 255) return null;
  return {
    ...(registry !== undefined ? { registry } : {}),
    path,
    ...(m[3] !== undefined ? { tag: m[3] } : {}),
    ...(m[4] !== undefined ? { digest: m[4] } : {}),
  };
}

/** What is wrong with an image reference, in words naming it, or null when it is valid. */
export function imageRefProblem(ref: string): string | null {
  if (ref.length > MAX_IMAGE_REF)
    return `image reference is ${ref.length} characters long; at most ${MAX_IMAGE_REF} are accepted`;
  if (parseImageRef(ref)) return null;
  const shown = JSON.stringify(ref.length > 80 ? `${ref.slice(0, 80)}…` : ref);
  return (
    `image ${shown} is not a valid image reference: use [registry/]path[:tag][@sha256:digest] ` +
    `with a lower-case path, e.g. nvcr.io/nvidia/pytorch:24.08-py3 or ubuntu:22.04`
  );
}

/** What is wrong with a policy pattern, or null when it is usable. */
export function imagePatternProblem(p: string): string | null {
  if (p.length === 0) return "an image pattern must not be empty";
  if (p.length > MAX_IMAGE_PATTERN)
    return `image pattern is ${p.length} characters long; at most ${MAX_IMAGE_PATTERN} are accepted`;
  if (!/^[A-Za-z0-9._\-/:@*?]+$/.test(p))
    return `image pattern ${JSON.stringify(p)} has characters no image reference has; use reference characters with * and ?, e.g. nvcr.io/nvidia/*`;
  return null;
}

/** The reference in Docker's normalised form: `ubuntu` is `docker.io/library/ubuntu`. */
export function normaliseImageRef(ref: string): string {
  const r = parseImageRef(ref);
  if (!r) return ref;
  const registry = r.registry ?? "docker.io";
  const path = registry === "docker.io" && !r.path.includes("/") ? `library/${r.path}` : r.path;
  return `${registry}/${path}${r.tag !== undefined ? `:${r.tag}` : ""}${r.digest !== undefined ? `@${r.digest}` : ""}`;
}

const globCache = new Map<string, RegExp>();

/** True when the glob (`*` any run, `?` one character) matches the whole string. */
export function globMatch(pattern: string, s: string): boolean {
  let re = globCache.get(pattern);
  if (!re) {
    const body = pattern
      .split("")
      .map((c) => (c === "*" ? ".*" : c === "?" ? "." : c.replace(/[.+^${}()|[\]\\]/g, "\\$&")))
      .join("");
    re = new RegExp(`^${body}$`);
    if (globCache.size > 1000) globCache.clear();
    globCache.set(pattern, re);
  }
  return re.test(s);
}

/** A site's image rules: the default image, allow and deny patterns, and whether jobs may have network. */
export interface ImagePolicy {
  defaultImage?: string | null;
  allowImages?: readonly string[];
  denyImages?: readonly string[];
  allowNetwork?: boolean;
}

/** Why the policy refuses the image, or null when it admits it. */
export function imageRefusal(policy: ImagePolicy, image: string): string | null {
  const forms = [image, normaliseImageRef(image)];
  const matches = (p: string): boolean => forms.some((f) => globMatch(p, f));
  const denied = (policy.denyImages ?? []).find(matches);
  if (denied !== undefined) return `denied by ${denied}`;
  const allow = policy.allowImages ?? [];
  if (allow.length > 0 && !allow.some(matches)) return `not on the allowlist`;
  return null;
}

/** The image a job runs in at a site: its own, else the site's default (undefined when neither). */
export function effectiveImage(policy: ImagePolicy, jobImage: string | undefined): string | undefined {
  return jobImage ?? policy.defaultImage ?? undefined;
}
