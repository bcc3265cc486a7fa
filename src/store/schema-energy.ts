/** Tables of energy profiles, meter readings and curtailment (migration 0003). */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- filled by the energy migration
export interface EnergyTables {}
