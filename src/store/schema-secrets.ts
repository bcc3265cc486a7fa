/** Tables of tenants' sealed secrets (migration 0009). Values are ciphertext; see src/control/secret-box.ts. */
export interface SecretTables {
  tenant_secrets: {
    tenant_id: string;
    name: string;
    type: string;
    registry: string;
    key_id: string;
    sealed: string;
    created_at: number;
    created_by: string;
  };
  job_secrets: {
    job_id: string;
    name: string;
    key_id: string;
    sealed: string;
  };
}
