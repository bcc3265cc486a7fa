/** Interactive instances' guardrails and GPU activity (migration 0017). */
export interface InstanceTables {
  instances: {
    job_id: string;
    tenant_id: string;
    max_duration_s: number | null;
    idle_stop_s: number | null;
    gpu_active_at: number | null;
    created_at: number;
  };
}
