import type { Generated } from "kysely";

/** Tables of GPU reservations for preemptors, job checkpoints and checkpoint transfers (migration 0008). */
export interface CheckpointTables {
  gpu_reservations: {
    id: Generated<number>;
    job_id: string;
    node_id: string;
    lease_id: string;
    gpu_indices_json: string;
    created_at: number;
    expires_at: number;
  };
  job_checkpoints: {
    job_id: string;
    lease_id: string;
    node_id: string;
    site_id: string;
    country: string;
    size_bytes: number;
    files: number;
    saved_at: number;
    updated_at: number;
  };
  checkpoint_transfers: {
    id: string;
    job_id: string;
    lease_id: string;
    from_node_id: string;
    from_site_id: string;
    to_node_id: string;
    to_site_id: string;
    state: string;
    size_bytes: number | null;
    sha256: string | null;
    received_bytes: number;
    reason: string | null;
    created_at: number;
    updated_at: number;
    /** The source's manifest (files, sizes, sha256) as JSON (migration 0018). */
    manifest_json: string | null;
  };
}
