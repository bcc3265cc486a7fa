/** Tables of the double-entry ledger (migration 0002). */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- filled by the ledger migration
export interface LedgerTables {}
