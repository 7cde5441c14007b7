/**
 * The index of the out-of-order queue: held ranges in an AVL tree keyed by
 * their first sequence number, so finding, adding and removing a range costs
 * O(log n) however a peer scatters its segments (Linux keeps its ofo queue in
 * an rbtree for the same reason). A range is a maximal run of held bytes, so
 * it is also a SACK block; its bytes are a list of chunks, joined without
 * copying.
 *
 * Keys compare modulo 2^32 (wire/seq.ts). Every key lies inside the receive
 * window above RCV.NXT, far less than 2^31 apart, so the order is consistent.
 */
import { seqLe, seqLt } from '../wire/seq.js';

/** Bytes of one range, in order. */
export interface Chunk {
  data: Buffer;
  next: Chunk | null;
}

export class OooRange {
  left: OooRange | null = null;
  right: OooRange | null = null;
  height = 1;
  tail: Chunk;

  constructor(
    /** First sequence number held: the key. */
    public start: number,
    /** One past the last: [start, end). */
    public end: number,
    public head: Chunk,
  ) {
    this.tail = head;
  }
}

const h = (n: OooRange | null): number => (n === null ? 0 : n.height);

function update(n: OooRange): void {
  const l = h(n.left);
  const r = h(n.right);
  n.height = (l > r ? l : r) + 1;
}

function rotateRight(n: OooRange): OooRange {
  const l = n.left!;
  n.left = l.right;
  l.right = n;
  update(n);
  update(l);
  return l;
}

function rotateLeft(n: OooRange): OooRange {
  const r = n.right!;
  n.right = r.left;
  r.left = n;
  update(n);
  update(r);
  return r;
}

/** Restore |height(left) - height(right)| <= 1 at `n`; returns the subtree's new root. */
function balance(n: OooRange): OooRange {
  update(n);
  const d = h(n.left) - h(n.right);
  if (d > 1) {
    if (h(n.left!.left) < h(n.left!.right)) n.left = rotateLeft(n.left!);
    return rotateRight(n);
  }
  if (d < -1) {
    if (h(n.right!.right) < h(n.right!.left)) n.right = rotateRight(n.right!);
    return rotateLeft(n);
  }
  return n;
}

export class OooTree {
  private root: OooRange | null = null;
  size = 0;
  /** Nodes visited by every operation so far: lets a test check the cost is logarithmic. */
  steps = 0;

  /** The lowest range. */
  first(): OooRange | null {
    let n = this.root;
    if (n === null) return null;
    while (n.left !== null) {
      this.steps++;
      n = n.left;
    }
    return n;
  }

  /** The highest range. */
  last(): OooRange | null {
    let n = this.root;
    if (n === null) return null;
    while (n.right !== null) {
      this.steps++;
      n = n.right;
    }
    return n;
  }

  /** The range with the greatest start <= seq. */
  floor(seq: number): OooRange | null {
    let n = this.root;
    let best: OooRange | null = null;
    while (n !== null) {
      this.steps++;
      if (seqLe(n.start, seq)) {
        best = n;
        n = n.right;
      } else {
        n = n.left;
      }
    }
    return best;
  }

  /** The range with the greatest start < seq. */
  below(seq: number): OooRange | null {
    let n = this.root;
    let best: OooRange | null = null;
    while (n !== null) {
      this.steps++;
      if (seqLt(n.start, seq)) {
        best = n;
        n = n.right;
      } else {
        n = n.left;
      }
    }
    return best;
  }

  /** The range with the least start > seq. */
  above(seq: number): OooRange | null {
    let n = this.root;
    let best: OooRange | null = null;
    while (n !== null) {
      this.steps++;
      if (seqLt(seq, n.start)) {
        best = n;
        n = n.left;
      } else {
        n = n.right;
      }
    }
    return best;
  }

  /** Add a range whose start no other range has. */
  insert(r: OooRange): void {
    r.left = r.right = null;
    r.height = 1;
    this.root = this.ins(this.root, r);
    this.size++;
  }

  private ins(n: OooRange | null, r: OooRange): OooRange {
    if (n === null) return r;
    this.steps++;
    if (seqLt(r.start, n.start)) n.left = this.ins(n.left, r);
    else n.right = this.ins(n.right, r);
    return balance(n);
  }

  /** Remove a range held in the tree (nodes are relinked, never copied, so other ranges stay valid). */
  remove(r: OooRange): void {
    this.root = this.del(this.root, r.start);
    r.left = r.right = null;
    this.size--;
  }

  private del(n: OooRange | null, key: number): OooRange | null {
    if (n === null) return null;
    this.steps++;
    if (seqLt(key, n.start)) n.left = this.del(n.left, key);
    else if (seqLt(n.start, key)) n.right = this.del(n.right, key);
    else {
      if (n.left === null) return n.right;
      if (n.right === null) return n.left;
      // Two children: the successor takes n's place.
      let m = n.right;
      while (m.left !== null) m = m.left;
      m.right = this.delMin(n.right);
      m.left = n.left;
      return balance(m);
    }
    return balance(n);
  }

  private delMin(n: OooRange): OooRange | null {
    this.steps++;
    if (n.left === null) return n.right;
    n.left = this.delMin(n.left);
    return balance(n);
  }

  /** Every range in order (O(n): for inspection, never on the per-segment path). */
  *[Symbol.iterator](): IterableIterator<OooRange> {
    const stack: OooRange[] = [];
    let n = this.root;
    while (n !== null || stack.length > 0) {
      while (n !== null) {
        stack.push(n);
        n = n.left;
      }
      const top = stack.pop()!;
      this.steps++;
      yield top;
      n = top.right;
    }
  }

  clear(): void {
    this.root = null;
    this.size = 0;
  }
}
