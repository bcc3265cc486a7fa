/** The operator-defined GPU models table (migration 0013). */
export interface GpuModelTables {
  gpu_models: {
    id: string;
    vendor: string;
    name: string;
    memory_gb: number;
    tdp_w: number;
    rel_throughput_milli: number;
    match_json: string;
    state: string;
    proposed_by: string | null;
    proposed_at: number;
    decided_at: number | null;
    reason: string | null;
  };
}
