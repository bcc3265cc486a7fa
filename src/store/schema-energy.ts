/** Tables of energy profiles, meter readings, renewable contracts and curtailment (migration 0003). */
export interface EnergyTables {
  energy_series: {
    site_id: string;
    kind: string;
    start_ms: number;
    step_ms: number;
    values_json: string;
    source: string;
    updated_at: number;
  };
  renewable_contracts: {
    id: string;
    site_id: string;
    kind: string;
    period_start_ms: number;
    period_end_ms: number;
    kwh: number;
    g_per_kwh: number | null;
    created_at: number;
  };
  meter_readings: {
    site_id: string;
    month: string;
    e_dc_kwh: number;
    e_it_kwh: number | null;
    e_res_tot_kwh: number | null;
    e_reuse_kwh: number | null;
    w_in_m3: number | null;
    installed_it_kw: number;
    updated_at: number;
  };
  curtailments: {
    id: string;
    site_id: string;
    start_ms: number;
    end_ms: number;
    max_kw: number;
    notice_s: number;
    reason: string;
    state: string;
    created_at: number;
    kw_before: number | null;
    kw_at_start: number | null;
    met_at_ms: number | null;
    stopped_json: string;
    reasoning_json: string;
  };
}
