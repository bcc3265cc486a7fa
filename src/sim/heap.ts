/** A binary min-heap of (time, id) pairs, ties broken by insertion order. */
export class EventHeap {
  private t: number[] = [];
  private id: number[] = [];
  private seq: number[] = [];
  private n = 0;
  private counter = 0;
  /** Number of events. */
  get size(): number {
    return this.n;
  }
  /** Earliest time, or Infinity. */
  peekTime(): number {
    return this.n > 0 ? this.t[0]! : Infinity;
  }
  /** Adds an event. */
  push(time: number, id: number): void {
    let i = this.n++;
    const s = this.counter++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.t[p]! < time || (this.t[p] === time && this.seq[p]! < s)) break;
      this.t[i] = this.t[p]!;
      this.id[i] = this.id[p]!;
      this.seq[i] = this.seq[p]!;
      i = p;
    }
    this.t[i] = time;
    this.id[i] = id;
    this.seq[i] = s;
  }
  /** Removes the earliest event and returns its id. */
  pop(): number {
    const top = this.id[0]!;
    const n = --this.n;
    const t = this.t[n]!;
    const id = this.id[n]!;
    const s = this.seq[n]!;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (
        c + 1 < n &&
        (this.t[c + 1]! < this.t[c]! || (this.t[c + 1] === this.t[c] && this.seq[c + 1]! < this.seq[c]!))
      )
        c++;
      if (t < this.t[c]! || (t === this.t[c] && s < this.seq[c]!)) break;
      this.t[i] = this.t[c]!;
      this.id[i] = this.id[c]!;
      this.seq[i] = this.seq[c]!;
      i = c;
    }
    this.t[i] = t;
    this.id[i] = id;
    this.seq[i] = s;
    return top;
  }
}
