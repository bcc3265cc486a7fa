/** A node a gang could use: its index, free GPUs, and switch group ("" when unlabelled). */
export interface GangCandidate {
  node: number;
  free: number;
  switchGroup: string;
}

/**
 * Picks the nodes of an m-node gang (m - 1 nodes taking `per` GPUs, the last taking `rem`) from
 * candidates given in preference order (fewest free GPUs first, then index), in as few switch
 * groups as it can: the one switch group that holds the whole gang with the fewest spare nodes,
 * else switch groups holding the most nodes first. Returns the chosen nodes in gang order, or
 * null when the candidates cannot hold the gang this way. The fast and reference schedulers share it.
 */
export function pickBySwitchGroup(
  cands: GangCandidate[],
  m: number,
  per: number,
  rem: number,
): number[] | null {
  const bySg = new Map<string, GangCandidate[]>();
  for (const c of cands) {
    if (c.free < rem) continue;
    const list = bySg.get(c.switchGroup);
    if (list) list.push(c);
    else bySg.set(c.switchGroup, [c]);
  }
  const rows = [...bySg.values()].map((list, order) => {
    const full = list.filter((c) => c.free >= per).length;
    const capacity = Math.min(m, full + (list.length > full ? 1 : 0));
    return { list, full, capacity, order };
  });
  const whole = rows
    .filter((r) => r.capacity >= m)
    .sort((a, b) => a.full - b.full || a.list.length - b.list.length || a.order - b.order);
  const chosen =
    whole.length > 0 ? [whole[0]!] : rows.sort((a, b) => b.capacity - a.capacity || a.order - b.order);
  const out: number[] = [];
  const used = new Set<number>();
  for (const r of chosen) {
    for (const c of r.list) {
      if (out.length === m - 1) break;
      if (c.free < per) continue;
      out.push(c.node);
      used.add(c.node);
    }
    if (out.length === m - 1) break;
  }
  if (out.length < m - 1) return null;
  // The last node (taking `rem`) from the switch groups already used, best fit first; else anywhere.
  const usedSg = new Set(cands.filter((c) => used.has(c.node)).map((c) => c.switchGroup));
  const pool = chosen.flatMap((r) => r.list).filter((c) => !used.has(c.node));
  const last =
    pool.find((c) => c.free >= rem && (usedSg.size === 0 || usedSg.has(c.switchGroup))) ??
    pool.find((c) => c.free >= rem);
  if (!last) return null;
  out.push(last.node);
  return out;
}
