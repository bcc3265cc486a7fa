/** Integer columns (PostgreSQL bigint parsed to safe integers by db.ts). */
type Int = number;

/** Tables of storage offers, volumes and their relayed transfers (migration 0016). */
export interface VolumeTables {
  storage_offers: {
    site_id: string;
    operator_id: string;
    path: string;
    capacity_bytes: Int;
    price_minor_per_gb_month: Int;
    currency: string;
    created_at: Int;
    updated_at: Int;
  };
  volumes: {
    id: string;
    tenant_id: string;
    name: string;
    site_id: string;
    operator_id: string;
    country: string;
    size_bytes: Int;
    used_bytes: Int;
    price_minor_per_gb_month: Int;
    state: string;
    created_at: Int;
    deleted_at: Int | null;
    billed_until: Int;
  };
  volume_transfers: {
    id: string;
    volume_id: string;
    tenant_id: string;
    node_id: string;
    direction: string;
    path: string;
    size_bytes: Int | null;
    sha256: string | null;
    state: string;
    received_bytes: Int;
    delivered_bytes: Int;
    reason: string | null;
    created_at: Int;
    updated_at: Int;
  };
  volume_chunks: {
    transfer_id: string;
    offset_bytes: Int;
    sha256: string;
    data: Uint8Array;
  };
}
