import { inJurisdiction, type JobRequest } from "../domain/index.js";
import {
  capMilliW,
  classRuns,
  fabricFits,
  gpuFacilityMilliW,
  overheadFacilityMilliW,
  perNodeFor,
  popcount,
  siteAllows,
  staticScore,
} from "./placement-rules.js";
import { pickBySwitchGroup } from "./switch-groups.js";
import type { NodeView, Policy, SiteView } from "./types.js";

/** A placement the state found for a request: nodes (by index) and GPUs taken on each. */
export interface Candidate {
  group: number;
  siteIdx: number;
  model: string;
  nodes: number[];
  takes: number[];
  price: number;
  /** priceWeight × price + carbonWeight × carbon + packingWeight × leftover. */
  score: number;
}

/** Nodes of one site that are interchangeable for placement: same model, memory, power, size, runtime and fabric. */
export interface Group {
  siteIdx: number;
  model: string;
  memGb: number;
  powerMilliW: number;
  cap: number;
  /** The class's nodes run container images. */
  images: boolean;
  /** The class's cluster-network fabric ("" when unlabelled): a gang stays inside one. */
  fabric: string;
  /** Some node of the class names a switch group: gangs are packed into few switch groups. */
  switched: boolean;
  nodes: number[];
  words: number;
  /** buckets[f] is a bitset over the group's nodes that have f free GPUs and take new work. */
  buckets: Uint32Array[];
  counts: Int32Array;
  lo: Int32Array;
  firstNode: number;
}

/** A placement inside one group: a single node (node >= 0) or several (nodes, takes). */
interface Hit {
  node: number;
  nodes: number[];
  takes: number[];
  leftover: number;
}

/** Order of groups for one (model, class), by static score then first node. */
interface Order {
  ids: number[];
  staticScore: number[];
  prices: number[];
  /** Largest carbon term in the order: once static score minus it exceeds priceWeight × a price cap, no later class is under the cap. */
  maxCarbonTerm: number;
  /** Max segment tree over each group's placeable GPUs on one node (free and power allowing). */
  size: number;
  tree: Int32Array;
}

/** Smallest position >= pos whose leaf is >= need, or -1. */
function nextAtLeast(o: Order, pos: number, need: number): number {
  const size = o.size;
  const tree = o.tree;
  if (pos >= size) return -1;
  let i = pos + size;
  if (tree[i]! < need) {
    for (;;) {
      if ((i & 1) === 0 && tree[i + 1]! >= need) {
        i++;
        break;
      }
      i >>= 1;
      if (i <= 1) return -1;
    }
    while (i < size) {
      i <<= 1;
      if (tree[i]! < need) i++;
    }
  }
  return i - size;
}

const lowBit = (w: number): number => 31 - Math.clz32(w & -w);

/**
 * Incremental scheduler state: free GPUs per node, indexed by (site, model, free count) buckets,
 * and facility draw per site. Both the pure `schedule()` and the simulator drive it.
 */
export class ClusterState {
  readonly siteIndex = new Map<string, number>();
  readonly nodeIndex = new Map<string, number>();
  readonly nodeFreeMask: Uint32Array;
  readonly nodeFree: Int32Array;
  readonly nodeCap: Int32Array;
  readonly nodeGroup: Int32Array;
  readonly nodeLocal: Int32Array;
  readonly nodeOpen: Uint8Array;
  readonly siteDrawMilliW: Float64Array;
  readonly siteCapMilliW: Float64Array;
  readonly siteOverheadMilliW: Float64Array;
  /** Per site: the facility draw of one full node of its most demanding class (power-bound threshold). */
  readonly siteMaxNodeMilliW: Float64Array;
  readonly groups: Group[] = [];
  /** Group ids per site index. */
  readonly groupsBySite: number[][] = [];
  private readonly groupsByModel = new Map<string, number[]>();
  /** Cached orders per model: [on-demand, on-demand EU, on-demand EEA, interruptible, interruptible EU, interruptible EEA]. */
  private readonly orders = new Map<string, (Order | undefined)[]>();
  private reserved: number[] = [];
  /** Where each group sits in the cached orders. */
  private groupSlots: { o: Order; pos: number }[][] = [];
  private dirty: number[] = [];
  private dirtyMark: Uint8Array = new Uint8Array(0);
  /** Largest node size per model in the federation: a job of at most this many GPUs never splits. */
  readonly maxCapByModel = new Map<string, number>();
  freeTotal = 0;

  constructor(
    readonly sites: SiteView[],
    readonly nodes: NodeView[],
    private policy: Policy,
  ) {
    sites.forEach((s, i) => {
      if (this.siteIndex.has(s.id)) throw new Error(`site ${s.id} appears twice in the snapshot`);
      this.siteIndex.set(s.id, i);
    });
    const n = nodes.length;
    this.nodeFreeMask = new Uint32Array(n);
    this.nodeFree = new Int32Array(n);
    this.nodeCap = new Int32Array(n);
    this.nodeGroup = new Int32Array(n);
    this.nodeLocal = new Int32Array(n);
    this.nodeOpen = new Uint8Array(n);
    this.siteDrawMilliW = new Float64Array(sites.length);
    this.siteCapMilliW = new Float64Array(sites.length);
    this.siteOverheadMilliW = new Float64Array(sites.length);
    this.siteMaxNodeMilliW = new Float64Array(sites.length);
    sites.forEach((s, i) => {
      this.siteCapMilliW[i] = capMilliW(s);
      this.siteOverheadMilliW[i] = overheadFacilityMilliW(s);
    });
    const keyToGroup = new Map<string, number>();
    nodes.forEach((node, i) => {
      if (this.nodeIndex.has(node.id)) throw new Error(`node ${node.id} appears twice in the snapshot`);
      this.nodeIndex.set(node.id, i);
      const si = this.siteIndex.get(node.siteId);
      if (si === undefined)
        throw new Error(`node ${node.id} names site ${node.siteId}, which is not in the snapshot`);
      const cap = node.gpuIndices.length;
      if (cap > 32) throw new Error(`node ${node.id} has ${cap} GPUs; at most 32 per node are supported`);
      const powerMilliW = gpuFacilityMilliW(node, sites[si]!);
      const images = node.runsImages === true;
      const fabric = node.fabric ?? "";
      const key = `${si}|${node.gpuModel}|${node.gpuMemoryGb}|${powerMilliW}|${cap}|${images ? 1 : 0}|${fabric}`;
      let g = keyToGroup.get(key);
      if (g === undefined) {
        g = this.groups.length;
        keyToGroup.set(key, g);
        this.groups.push({
          siteIdx: si,
          model: node.gpuModel,
          memGb: node.gpuMemoryGb,
          powerMilliW,
          cap,
          images,
          fabric,
          switched: false,
          nodes: [],
          words: 0,
          buckets: [],
          counts: new Int32Array(0),
          lo: new Int32Array(0),
          firstNode: i,
        });
        const list = this.groupsByModel.get(node.gpuModel) ?? [];
        list.push(g);
        this.groupsByModel.set(node.gpuModel, list);
      }
      const grp = this.groups[g]!;
      if (node.switchGroup !== undefined) grp.switched = true;
      this.nodeGroup[i] = g;
      this.nodeLocal[i] = grp.nodes.length;
      grp.nodes.push(i);
      this.nodeCap[i] = cap;
      this.nodeFree[i] = cap;
      this.nodeFreeMask[i] = cap === 32 ? 0xffffffff : (1 << cap) - 1;
      this.freeTotal += cap;
    });
    for (let s = 0; s < sites.length; s++) this.groupsBySite.push([]);
    this.groupSlots = this.groups.map(() => []);
    this.dirtyMark = new Uint8Array(this.groups.length);
    for (const g of this.groups)
      this.maxCapByModel.set(g.model, Math.max(this.maxCapByModel.get(g.model) ?? 0, g.cap));
    this.groups.forEach((g, gi) => {
      this.groupsBySite[g.siteIdx]!.push(gi);
      const m = g.powerMilliW * g.cap + this.siteOverheadMilliW[g.siteIdx]!;
      if (m > this.siteMaxNodeMilliW[g.siteIdx]!) this.siteMaxNodeMilliW[g.siteIdx] = m;
    });
    for (const grp of this.groups) {
      grp.words = (grp.nodes.length + 31) >>> 5;
      grp.buckets = Array.from({ length: grp.cap + 1 }, () => new Uint32Array(grp.words));
      grp.counts = new Int32Array(grp.cap + 1);
      grp.lo = new Int32Array(grp.cap + 1);
    }
    nodes.forEach((node, i) => {
      if (node.schedulable) this.open(i);
    });
  }

  /** Changes the policy weights (invalidates the cached site order). */
  setPolicy(policy: Policy): void {
    this.policy = policy;
    this.dropOrders();
  }

  private dropOrders(): void {
    this.orders.clear();
    for (const slots of this.groupSlots) slots.length = 0;
  }

  /** GPUs one node of group g could take now: its most free open node, bounded by site power headroom. */
  private placeable(g: number): number {
    const grp = this.groups[g]!;
    let f = grp.cap;
    while (f > 0 && grp.counts[f] === 0) f--;
    if (f === 0) return 0;
    const head = this.siteCapMilliW[grp.siteIdx]! - this.siteDrawMilliW[grp.siteIdx]!;
    const byPower = grp.powerMilliW > 0 ? Math.floor(head / grp.powerMilliW) : f;
    return Math.max(0, Math.min(f, byPower));
  }

  private markDirty(g: number): void {
    if (this.dirtyMark[g]) return;
    this.dirtyMark[g] = 1;
    this.dirty.push(g);
  }

  private flush(): void {
    for (const g of this.dirty) {
      this.dirtyMark[g] = 0;
      const slots = this.groupSlots[g]!;
      if (slots.length === 0) continue;
      const v = this.placeable(g);
      for (const { o, pos } of slots) {
        let i = pos + o.size;
        if (o.tree[i] === v) continue;
        o.tree[i] = v;
        for (i >>= 1; i >= 1; i >>= 1) {
          const m = Math.max(o.tree[2 * i]!, o.tree[2 * i + 1]!);
          if (o.tree[i] === m) break;
          o.tree[i] = m;
        }
      }
    }
    this.dirty.length = 0;
  }

  /** Sets a site's current carbon intensity (invalidates the cached site order). */
  setCarbon(siteIdx: number, gPerKwh: number | undefined): void {
    this.sites[siteIdx]!.carbonGPerKwh = gPerKwh;
    this.dropOrders();
  }

  /** Sets a site's power cap now, kW (curtailment). */
  setPowerCap(siteIdx: number, kw: number): void {
    this.sites[siteIdx]!.powerCapKw = kw;
    this.siteCapMilliW[siteIdx] = capMilliW(this.sites[siteIdx]!);
    for (const g of this.groupsBySite[siteIdx] ?? []) this.markDirty(g);
  }

  private maxOpenFreeCache = -1;

  /** The most free GPUs on any node taking new work (cached until the next change). */
  maxOpenFree(): number {
    if (this.maxOpenFreeCache >= 0) return this.maxOpenFreeCache;
    let m = 0;
    for (const grp of this.groups) {
      for (let f = grp.cap; f > m; f--) {
        if (grp.counts[f]! > 0) {
          m = f;
          break;
        }
      }
    }
    this.maxOpenFreeCache = m;
    return m;
  }

  private bucketAdd(i: number): void {
    this.maxOpenFreeCache = -1;
    this.markDirty(this.nodeGroup[i]!);
    const grp = this.groups[this.nodeGroup[i]!]!;
    const f = this.nodeFree[i]!;
    const l = this.nodeLocal[i]!;
    const w = l >>> 5;
    grp.buckets[f]![w]! |= 1 << (l & 31);
    grp.counts[f]!++;
    if (w < grp.lo[f]!) grp.lo[f] = w;
  }

  private bucketRemove(i: number): void {
    this.maxOpenFreeCache = -1;
    this.markDirty(this.nodeGroup[i]!);
    const grp = this.groups[this.nodeGroup[i]!]!;
    const f = this.nodeFree[i]!;
    const l = this.nodeLocal[i]!;
    grp.buckets[f]![l >>> 5]! &= ~(1 << (l & 31));
    grp.counts[f]!--;
  }

  private open(i: number): void {
    if (this.nodeOpen[i]) return;
    this.nodeOpen[i] = 1;
    this.bucketAdd(i);
  }

  private close(i: number): void {
    if (!this.nodeOpen[i]) return;
    this.nodeOpen[i] = 0;
    this.bucketRemove(i);
  }

  /** Marks node i as taking (or not taking) new work. */
  setSchedulable(i: number, on: boolean): void {
    if (on) this.open(i);
    else this.close(i);
  }

  /** Keeps node i out of placements until `clearReservations()` (backfill reservation for a blocked head). */
  reserve(i: number): void {
    if (!this.nodeOpen[i]) return;
    this.close(i);
    this.reserved.push(i);
  }

  /** Returns one reserved node to placement (a preemptor's earlier claim on it beats a backfill reservation). */
  unreserve(i: number): void {
    const k = this.reserved.indexOf(i);
    if (k < 0) return;
    this.reserved.splice(k, 1);
    this.open(i);
  }

  /** Returns every reserved node to placement. */
  clearReservations(): void {
    for (const i of this.reserved) this.open(i);
    this.reserved = [];
  }

  /** Takes specific GPUs (by position mask on the node) out of the free pool; used for existing leases. */
  occupyMask(i: number, mask: number): void {
    const m = mask >>> 0;
    if ((this.nodeFreeMask[i]! & m) >>> 0 !== m)
      throw new Error(`GPU of node ${this.nodes[i]!.id} is held by two leases`);
    this.changeFree(i, -popcount(m), m, 0);
  }

  /** Takes `count` free GPUs (lowest positions first) on node i; returns their position mask. */
  takeGpus(i: number, count: number): number {
    let free = this.nodeFreeMask[i]!;
    let m = 0;
    for (let k = 0; k < count; k++) {
      const b = free & -free;
      if (b === 0) throw new Error(`node ${this.nodes[i]!.id} has fewer than ${count} free GPUs`);
      m |= b;
      free &= ~b;
    }
    this.changeFree(i, -count, m >>> 0, 0);
    return m >>> 0;
  }

  /** Returns GPUs (position mask) of node i to the free pool. */
  releaseMask(i: number, mask: number): void {
    const m = mask >>> 0;
    if ((this.nodeFreeMask[i]! & m) !== 0) throw new Error(`GPU of node ${this.nodes[i]!.id} released twice`);
    this.changeFree(i, popcount(m), 0, m);
  }

  private changeFree(i: number, delta: number, takeMask: number, giveMask: number): void {
    const open = this.nodeOpen[i] === 1;
    if (open) this.bucketRemove(i);
    const before = this.nodeFree[i]!;
    const cap = this.nodeCap[i]!;
    const after = before + delta;
    this.nodeFree[i] = after;
    this.nodeFreeMask[i] = ((this.nodeFreeMask[i]! & ~takeMask) | giveMask) >>> 0;
    this.freeTotal += delta;
    const grp = this.groups[this.nodeGroup[i]!]!;
    const si = grp.siteIdx;
    let d = -delta * grp.powerMilliW;
    if (before === cap && after < cap) d += this.siteOverheadMilliW[si]!;
    if (before < cap && after === cap) d -= this.siteOverheadMilliW[si]!;
    if (d !== 0) {
      const headBefore = this.siteCapMilliW[si]! - this.siteDrawMilliW[si]!;
      this.siteDrawMilliW[si]! += d;
      // Power bounds what a class can take only when the headroom is under a full node of its biggest class.
      if (Math.min(headBefore, headBefore - d) < this.siteMaxNodeMilliW[si]!)
        for (const g of this.groupsBySite[si]!) this.markDirty(g);
    }
    if (open) this.bucketAdd(i);
  }

  /** Facility milliwatts that taking `takes` on `nodes` would add. */
  extraMilliW(nodes: number[], takes: number[]): number {
    let d = 0;
    for (let k = 0; k < nodes.length; k++) {
      const i = nodes[k]!;
      const grp = this.groups[this.nodeGroup[i]!]!;
      d += takes[k]! * grp.powerMilliW;
      if (this.nodeFree[i] === this.nodeCap[i] && takes[k]! > 0) d += this.siteOverheadMilliW[grp.siteIdx]!;
    }
    return d;
  }

  private order(model: string, cls: JobRequest["class"], jurisdiction: JobRequest["jurisdiction"]): Order {
    const slot =
      (cls === "interruptible" ? 3 : 0) + (jurisdiction === undefined ? 0 : jurisdiction === "EU" ? 1 : 2);
    let slots = this.orders.get(model);
    if (!slots) this.orders.set(model, (slots = []));
    let o = slots[slot];
    if (o) return o;
    const rows: { id: number; s: number; p: number; first: number }[] = [];
    for (const g of this.groupsByModel.get(model) ?? []) {
      const grp = this.groups[g]!;
      const site = this.sites[grp.siteIdx]!;
      const pr = site.prices[model];
      if (!pr) continue;
      if (jurisdiction && !inJurisdiction(site.country, jurisdiction)) continue;
      const p = cls === "interruptible" ? pr.interruptibleMinorPerGpuHour : pr.onDemandMinorPerGpuHour;
      rows.push({ id: g, s: staticScore(this.policy, p, site), p, first: grp.firstNode });
    }
    rows.sort((a, b) => a.s - b.s || a.first - b.first);
    let size = 2;
    while (size < rows.length) size <<= 1;
    let maxCarbonTerm = 0;
    for (const r of rows) maxCarbonTerm = Math.max(maxCarbonTerm, r.s - this.policy.priceWeight * r.p);
    o = {
      maxCarbonTerm,
      ids: rows.map((r) => r.id),
      staticScore: rows.map((r) => r.s),
      prices: rows.map((r) => r.p),
      size,
      tree: new Int32Array(2 * size),
    };
    this.flush();
    rows.forEach((r, pos) => {
      o!.tree[size + pos] = this.placeable(r.id);
      this.groupSlots[r.id]!.push({ o: o!, pos });
    });
    for (let i = size - 1; i >= 1; i--) o.tree[i] = Math.max(o.tree[2 * i]!, o.tree[2 * i + 1]!);
    slots[slot] = o;
    return o;
  }

  /** First node (lowest local index) in bucket f of a group, skipping `skip`; -1 when none. */
  private firstIn(grp: Group, f: number, skip: number[] | null): number {
    if (grp.counts[f] === 0) return -1;
    const bs = grp.buckets[f]!;
    let w = grp.lo[f]!;
    while (w < grp.words && bs[w] === 0) w++;
    grp.lo[f] = w;
    for (; w < grp.words; w++) {
      let word = bs[w]!;
      while (word !== 0) {
        const b = lowBit(word);
        const node = grp.nodes[(w << 5) | b]!;
        if (!skip || !skip.includes(node)) return node;
        word &= word - 1;
      }
    }
    return -1;
  }

  /** Collects up to `want` nodes with at least `min` free GPUs, in (free asc, index asc) order. */
  private collect(grp: Group, min: number, want: number, out: number[]): void {
    for (let f = min; f <= grp.cap && out.length < want; f++) {
      if (grp.counts[f] === 0) continue;
      const bs = grp.buckets[f]!;
      for (let w = grp.lo[f]!; w < grp.words && out.length < want; w++) {
        let word = bs[w]!;
        while (word !== 0 && out.length < want) {
          out.push(grp.nodes[(w << 5) | lowBit(word)]!);
          word &= word - 1;
        }
      }
    }
  }

  /** The best placement in one group, or null (constraints on the site are checked by the caller). */
  private inGroup(grp: Group, gpus: number, gpusPerNode: number | undefined): Hit | null {
    const per = perNodeFor(grp.cap, this.maxCapByModel.get(grp.model) ?? 0, gpus, gpusPerNode);
    if (per > grp.cap || per <= 0) return null;
    const m = Math.ceil(gpus / per);
    const rem = gpus - per * (m - 1);
    let nodes: number[] | null = null;
    if (m === 1) {
      // Fast path without allocation: the best-fit node, its power and leftover.
      let node = -1;
      for (let f = gpus; f <= grp.cap && node < 0; f++) node = this.firstIn(grp, f, null);
      if (node < 0) return null;
      const si1 = grp.siteIdx;
      let extra = gpus * grp.powerMilliW;
      if (this.nodeFree[node] === this.nodeCap[node]) extra += this.siteOverheadMilliW[si1]!;
      if (this.siteDrawMilliW[si1]! + extra > this.siteCapMilliW[si1]!) return null;
      this.single.node = node;
      this.single.leftover = this.nodeFree[node]! - gpus;
      return this.single;
    } else {
      if (grp.switched) nodes = this.bySwitchGroup(grp, m, per, rem);
    }
    if (nodes === null) {
      nodes = [];
      this.collect(grp, per, rem === per ? m : m - 1, nodes);
      if (rem === per) {
        if (nodes.length < m) return null;
      } else {
        if (nodes.length < m - 1) return null;
        let last = -1;
        for (let f = rem; f <= grp.cap && last < 0; f++) last = this.firstIn(grp, f, nodes);
        if (last < 0) return null;
        nodes.push(last);
      }
    }
    const takes = nodes.map((_, k) => (k === m - 1 ? rem : per));
    const si = grp.siteIdx;
    if (this.siteDrawMilliW[si]! + this.extraMilliW(nodes, takes) > this.siteCapMilliW[si]!) return null;
    let leftover = 0;
    for (let k = 0; k < nodes.length; k++) leftover += this.nodeFree[nodes[k]!]! - takes[k]!;
    return { node: -1, nodes, takes, leftover };
  }

  /** A multi-node gang's nodes in as few switch groups as the group's open nodes allow, or null. */
  private bySwitchGroup(grp: Group, m: number, per: number, rem: number): number[] | null {
    const open: number[] = [];
    this.collect(grp, rem, grp.nodes.length, open);
    return pickBySwitchGroup(
      open.map((i) => ({ node: i, free: this.nodeFree[i]!, switchGroup: this.nodes[i]!.switchGroup ?? "" })),
      m,
      per,
      rem,
    );
  }

  /** Scratch result of a single-node hit (node >= 0; nodes and takes unused). */
  private readonly single: Hit = { node: -1, nodes: [], takes: [], leftover: 0 };

  /**
   * The best placement at one site only (the site holding a job's checkpoint), on `preferNode` when
   * that node is of the chosen class and takes the whole job; null when nothing fits at the site.
   */
  findPlacementAt(r: JobRequest, siteIdx: number, preferNode: number): Candidate | null {
    const c = this.findPlacement(r, siteIdx);
    const n = preferNode;
    if (!c || c.nodes.length !== 1 || n < 0 || c.nodes[0] === n) return c;
    if (this.nodeGroup[n] !== c.group || !this.nodeOpen[n] || this.nodeFree[n]! < r.gpus) return c;
    let extra = r.gpus * this.groups[c.group]!.powerMilliW;
    if (this.nodeFree[n] === this.nodeCap[n]) extra += this.siteOverheadMilliW[siteIdx]!;
    if (this.siteDrawMilliW[siteIdx]! + extra > this.siteCapMilliW[siteIdx]!) return c;
    return { ...c, nodes: [n], takes: [r.gpus] };
  }

  /** The best placement for a request now (at `onlySite` when given), or null when nothing fits. Never mutates the state. */
  findPlacement(r: JobRequest, onlySite?: number): Candidate | null {
    const pw = this.policy.packingWeight;
    this.flush();
    for (const model of r.gpuModels) {
      const o = this.order(model, r.class, r.jurisdiction);
      const single = r.gpusPerNode === undefined && r.gpus <= (this.maxCapByModel.get(model) ?? 0);
      const need = single ? r.gpus : 1;
      const pw0 = this.policy.priceWeight;
      const capStop =
        r.maxPriceMinorPerGpuHour !== undefined && pw0 > 0 && this.policy.carbonWeight >= 0
          ? pw0 * r.maxPriceMinorPerGpuHour + o.maxCarbonTerm
          : Infinity;
      let best: Candidate | null = null;
      for (let k = nextAtLeast(o, 0, need); k >= 0; k = nextAtLeast(o, k + 1, need)) {
        const s = o.staticScore[k]!;
        if ((best && s > best.score) || s > capStop) break;
        const price = o.prices[k]!;
        if (r.maxPriceMinorPerGpuHour !== undefined && price > r.maxPriceMinorPerGpuHour) continue;
        const g = o.ids[k]!;
        const grp = this.groups[g]!;
        if (onlySite !== undefined && grp.siteIdx !== onlySite) continue;
        if (r.minGpuMemoryGb !== undefined && grp.memGb < r.minGpuMemoryGb) continue;
        if (!fabricFits(grp.fabric, r)) continue;
        const site = this.sites[grp.siteIdx]!;
        if (!siteAllows(site, r) || !classRuns(site, grp.images, r)) continue;
        const hit = this.inGroup(grp, r.gpus, r.gpusPerNode);
        if (!hit) continue;
        const score = s + pw * hit.leftover;
        const first = hit.node >= 0 ? hit.node : hit.nodes[0]!;
        if (!best || score < best.score || (score === best.score && first < best.nodes[0]!)) {
          best =
            hit.node >= 0
              ? { group: g, siteIdx: grp.siteIdx, model, nodes: [hit.node], takes: [r.gpus], price, score }
              : { group: g, siteIdx: grp.siteIdx, model, nodes: hit.nodes, takes: hit.takes, price, score };
        }
      }
      if (best) return best;
    }
    return null;
  }

  /** Takes the candidate's GPUs; returns the position mask taken on each node. */
  commit(c: Candidate): number[] {
    return c.nodes.map((i, k) => this.takeGpus(i, c.takes[k]!));
  }

  /** The group key of a node: nodes of one gang must share it. */
  groupOf(i: number): number {
    return this.nodeGroup[i]!;
  }
}
