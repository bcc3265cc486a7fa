import { describe, expect, it } from "vitest";
import {
  effectiveImage,
  globMatch,
  imagePatternProblem,
  imageRefProblem,
  imageRefusal,
  normaliseImageRef,
  parseImageRef,
} from "./images.js";

const DIGEST = `sha256:${"a".repeat(64)}`;

describe("image references", () => {
  const good: [string, ReturnType<typeof parseImageRef>][] = [
    ["ubuntu", { path: "ubuntu" }],
    ["ubuntu:22.04", { path: "ubuntu", tag: "22.04" }],
    ["library/ubuntu", { path: "library/ubuntu" }],
    ["nvcr.io/nvidia/pytorch:24.08-py3", { registry: "nvcr.io", path: "nvidia/pytorch", tag: "24.08-py3" }],
    ["localhost/zumbido/demo:latest", { registry: "localhost", path: "zumbido/demo", tag: "latest" }],
    ["registry.example.com:5000/team/app", { registry: "registry.example.com:5000", path: "team/app" }],
    [`ghcr.io/a/b:v1@${DIGEST}`, { registry: "ghcr.io", path: "a/b", tag: "v1", digest: DIGEST }],
    [`busybox@${DIGEST}`, { path: "busybox", digest: DIGEST }],
    ["my_org/my-app__x", { path: "my_org/my-app__x" }],
  ];
  for (const [ref, want] of good)
    it(`accepts ${ref}`, () => {
      expect(parseImageRef(ref)).toEqual(want);
      expect(imageRefProblem(ref)).toBeNull();
    });
  const bad = [
    "",
    "Ubuntu",
    "ubuntu:",
    "ubuntu:bad tag",
    "-ubuntu",
    "ubuntu@sha256:abc",
    "a//b",
    "nvcr.io/",
    "ubuntu;rm -rf /",
    "$(id)",
    `x/${"a".repeat(300)}`,
    "a".repeat(401),
  ];
  for (const ref of bad)
    it(`refuses ${JSON.stringify(ref.slice(0, 30))}`, () => {
      expect(parseImageRef(ref)).toBeNull();
      expect(imageRefProblem(ref)).toMatch(/image|characters/);
    });
  it("names the bad value and the grammar", () => {
    expect(imageRefProblem("Ubuntu")).toBe(
      'image "Ubuntu" is not a valid image reference: use [registry/]path[:tag][@sha256:digest] with a lower-case path, e.g. nvcr.io/nvidia/pytorch:24.08-py3 or ubuntu:22.04',
    );
  });
  it("normalises Docker short names", () => {
    expect(normaliseImageRef("ubuntu:22.04")).toBe("docker.io/library/ubuntu:22.04");
    expect(normaliseImageRef("acme/app")).toBe("docker.io/acme/app");
    expect(normaliseImageRef("nvcr.io/nvidia/pytorch:24.08-py3")).toBe("nvcr.io/nvidia/pytorch:24.08-py3");
  });
});

describe("image policy", () => {
  it("globs: * spans any run, ? one character, the rest literally", () => {
    expect(globMatch("nvcr.io/nvidia/*", "nvcr.io/nvidia/pytorch:24.08-py3")).toBe(true);
    expect(globMatch("nvcr.io/nvidia/*", "nvcr.io/other/x")).toBe(false);
    expect(globMatch("nvcr.io/nvidia/*", "nvcrXio/nvidia/x")).toBe(false);
    expect(globMatch("ubuntu:2?.04", "ubuntu:22.04")).toBe(true);
  });
  it("deny wins over allow; an allowlist admits only what it matches", () => {
    const p = { allowImages: ["nvcr.io/nvidia/*", "docker.io/library/*"], denyImages: ["*:latest"] };
    expect(imageRefusal(p, "nvcr.io/nvidia/pytorch:24.08-py3")).toBeNull();
    expect(imageRefusal(p, "ubuntu:22.04")).toBeNull(); // docker.io/library/ubuntu:22.04
    expect(imageRefusal(p, "ubuntu:latest")).toBe("denied by *:latest");
    expect(imageRefusal(p, "ghcr.io/x/y:1")).toBe("not on the allowlist");
    expect(imageRefusal({}, "ghcr.io/x/y:1")).toBeNull();
  });
  it("the job's image wins over the site's default", () => {
    expect(effectiveImage({ defaultImage: "ubuntu:22.04" }, undefined)).toBe("ubuntu:22.04");
    expect(effectiveImage({ defaultImage: "ubuntu:22.04" }, "busybox")).toBe("busybox");
    expect(effectiveImage({ defaultImage: null }, undefined)).toBeUndefined();
  });
  it("patterns hold reference characters only", () => {
    expect(imagePatternProblem("nvcr.io/nvidia/*")).toBeNull();
    expect(imagePatternProblem("")).toMatch(/empty/);
    expect(imagePatternProblem("a b")).toMatch(/characters/);
  });
});
