import { z } from "zod";

/** A site's storage offer (the path on the nodes is shown to its operator and admins only). */
export const StorageOfferView = z.object({
  siteId: z.string(),
  siteName: z.string(),
  country: z.string(),
  path: z.string().optional(),
  capacityBytes: z.number(),
  /** Capacity not yet taken by volumes' declared sizes. */
  freeBytes: z.number(),
  priceMinorPerGbMonth: z.number(),
  currency: z.string(),
  updatedAt: z.number(),
});
/** A site's storage offer. */
export type StorageOfferView = z.infer<typeof StorageOfferView>;

/** A site that holds (or held) some of a job's or a volume's data. */
export const DataLocation = z.object({
  kind: z.enum(["volume", "checkpoint"]),
  siteId: z.string(),
  siteName: z.string(),
  country: z.string(),
  /** The checkpoint's node (absent for a volume: the site's storage). */
  nodeId: z.string().optional(),
  /** The volume's name, for kind "volume". */
  volume: z.string().optional(),
  from: z.number().nullable(),
  to: z.number().nullable(),
});
/** A site that holds (or held) data. */
export type DataLocation = z.infer<typeof DataLocation>;

/** A tenant's volume. */
export const VolumeView = z.object({
  id: z.string(),
  tenantId: z.string(),
  name: z.string(),
  siteId: z.string(),
  siteName: z.string(),
  country: z.string(),
  sizeBytes: z.number(),
  usedBytes: z.number(),
  priceMinorPerGbMonth: z.number(),
  currency: z.string(),
  state: z.enum(["ready", "deleted"]),
  createdAt: z.number(),
  deletedAt: z.number().nullable(),
  /** Every site that has held the volume's bytes (one: a volume never moves). */
  locations: z.array(DataLocation),
});
/** A tenant's volume. */
export type VolumeView = z.infer<typeof VolumeView>;

/** A copy into or out of a volume through the control plane's relay. */
export const VolumeTransferView = z.object({
  id: z.string(),
  volumeId: z.string(),
  direction: z.enum(["upload", "download", "delete"]),
  path: z.string(),
  sizeBytes: z.number().nullable(),
  sha256: z.string().nullable(),
  state: z.enum(["open", "done", "failed"]),
  receivedBytes: z.number(),
  deliveredBytes: z.number(),
  reason: z.string().nullable(),
  createdAt: z.number(),
  updatedAt: z.number(),
});
/** A copy into or out of a volume. */
export type VolumeTransferView = z.infer<typeof VolumeTransferView>;

/** Work the relay has for a node's agent: open transfers of volumes at its site. */
export const AgentVolumeTransfer = VolumeTransferView.extend({ nodeId: z.string() });
/** Work the relay has for a node's agent. */
export type AgentVolumeTransfer = z.infer<typeof AgentVolumeTransfer>;
