// deploy/: the Kubernetes manifests validate against the Kubernetes schemas (kubernetes-models),
// and the systemd units carry their hardening options. No cluster or systemd is needed.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DaemonSet } from "kubernetes-models/apps/v1/DaemonSet";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";

const DEPLOY = join(import.meta.dirname, "..", "..", "deploy");

const KINDS: Record<string, (o: never) => { validate(): void }> = {
  "v1/Namespace": (o) => new Namespace(o),
  "v1/Secret": (o) => new Secret(o),
  "v1/Service": (o) => new Service(o),
  "apps/v1/Deployment": (o) => new Deployment(o),
  "apps/v1/DaemonSet": (o) => new DaemonSet(o),
};

interface Doc {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec?: Record<string, unknown>;
}

const docs = (): Doc[] =>
  parseAllDocuments(readFileSync(join(DEPLOY, "kubernetes", "zumbido.yaml"), "utf8")).map((d) => {
    if (d.errors.length) throw new Error(`zumbido.yaml: ${d.errors.map((e) => e.message).join("; ")}`);
    return d.toJS() as Doc;
  });

const unit = (name: string): Map<string, string> =>
  new Map(
    readFileSync(join(DEPLOY, "systemd", name), "utf8")
      .split("\n")
      .filter((l) => /^[A-Za-z]+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );

describe("deploy/", () => {
  it("every Kubernetes object validates against its schema", () => {
    const all = docs();
    expect(all.length).toBeGreaterThanOrEqual(6);
    for (const d of all) {
      const make = KINDS[`${d.apiVersion}/${d.kind}`];
      expect(make, `no validator for ${d.apiVersion} ${d.kind}`).toBeDefined();
      expect(() => make!(d as never).validate(), `${d.kind} ${d.metadata.name}`).not.toThrow();
    }
  });

  it("a schema violation is caught (the validation is not a no-op)", () => {
    const dep = docs().find((d) => d.kind === "Deployment")!;
    const bad = { ...dep, spec: { ...dep.spec, replicas: "three" } };
    expect(() => new Deployment(bad as never).validate()).toThrow();
  });

  it("runs several API replicas on PostgreSQL, a Service in front, and the agent on GPU nodes with the device plugin's resource", () => {
    const all = docs();
    const dep = all.find((d) => d.kind === "Deployment")! as unknown as {
      spec: {
        replicas: number;
        template: { spec: { containers: { ports: { containerPort: number }[] }[] } };
      };
    };
    expect(dep.spec.replicas).toBeGreaterThan(1);
    const secret = all.find(
      (d) => d.kind === "Secret" && d.metadata.name === "zumbido-server",
    ) as unknown as {
      stringData: Record<string, string>;
    };
    expect(secret.stringData.ZUMBIDO_STORE).toMatch(/^postgres:\/\//);
    const svc = all.find((d) => d.kind === "Service") as unknown as {
      spec: { selector: Record<string, string> };
    };
    expect(svc.spec.selector["app.kubernetes.io/component"]).toBe("server");
    const ds = all.find((d) => d.kind === "DaemonSet") as unknown as {
      spec: {
        template: {
          spec: {
            nodeSelector: Record<string, string>;
            containers: { resources: { limits: Record<string, string> } }[];
          };
        };
      };
    };
    expect(ds.spec.template.spec.nodeSelector["nvidia.com/gpu.present"]).toBe("true");
    expect(ds.spec.template.spec.containers[0]!.resources.limits["nvidia.com/gpu"]).toBeDefined();
  });

  it("the systemd units are hardened: the server unprivileged, the agent root with a bounded capability set", () => {
    const server = unit("zumbido-server.service");
    for (const [k, v] of [
      ["NoNewPrivileges", "yes"],
      ["ProtectSystem", "strict"],
      ["ProtectHome", "yes"],
      ["PrivateTmp", "yes"],
      ["ReadWritePaths", "/var/lib/zumbido"],
      ["CapabilityBoundingSet", ""],
      ["User", "zumbido"],
    ] as const)
      expect(server.get(k), `server ${k}`).toBe(v);
    const agent = unit("zumbido-agent.service");
    for (const [k, v] of [
      ["NoNewPrivileges", "yes"],
      ["ProtectSystem", "strict"],
      ["ProtectHome", "yes"],
      ["PrivateTmp", "yes"],
    ] as const)
      expect(agent.get(k), `agent ${k}`).toBe(v);
    expect(agent.get("User")).toBeUndefined();
    expect(agent.get("ReadWritePaths")).toContain("/var/lib/containers");
    expect(agent.get("CapabilityBoundingSet")).toContain("CAP_SYS_ADMIN");
    expect(agent.get("ExecStart")).toContain("--executor podman");
  });
});
