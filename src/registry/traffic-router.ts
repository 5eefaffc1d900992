/**
 * Splits unpinned traffic of one model across versions by weight.
 *
 * Without a routing key it uses smooth weighted round-robin (nginx's): shares are exact over
 * any window of `1 / smallest weight` requests, with no randomness to test around. With a
 * routing key (a user or session id) the key's hash picks the version, so the same key lands
 * on the same version for as long as the weights stay the same: a sticky canary.
 */
export class TrafficRouter {
  private readonly versions: number[];
  private readonly weights: number[];
  /** Cumulative weights, for keyed picks. */
  private readonly cumulative: number[];
  private readonly current: number[];
  /** The only version, when one takes all traffic: the common case costs one comparison. */
  readonly sole: number | undefined;

  constructor(weights: ReadonlyMap<number, number>) {
    const entries = [...weights].filter(([, w]) => w > 0).sort((a, b) => a[0] - b[0]);
    const total = entries.reduce((sum, [, w]) => sum + w, 0);
    this.versions = entries.map(([v]) => v);
    this.weights = entries.map(([, w]) => w / total);
    this.current = entries.map(() => 0);
    let sum = 0;
    this.cumulative = this.weights.map((w) => (sum += w));
    this.sole = this.versions.length === 1 ? this.versions[0] : undefined;
  }

  /** Normalized weights (summing to 1) by version. */
  shares(): Record<number, number> {
    const shares: Record<number, number> = {};
    for (let i = 0; i < this.versions.length; i++) shares[this.versions[i]!] = this.weights[i]!;
    return shares;
  }

  /** The version for the next unpinned request; undefined when no version has weight. */
  pick(routingKey?: string): number | undefined {
    if (this.sole !== undefined) return this.sole;
    if (this.versions.length === 0) return undefined;
    if (routingKey !== undefined) {
      const point = hashToUnit(routingKey);
      for (let i = 0; i < this.cumulative.length; i++) if (point < this.cumulative[i]!) return this.versions[i];
      return this.versions[this.versions.length - 1];
    }
    let best = 0;
    for (let i = 0; i < this.versions.length; i++) {
      this.current[i]! += this.weights[i]!;
      if (this.current[i]! > this.current[best]!) best = i;
    }
    this.current[best]! -= 1;
    return this.versions[best];
  }
}

/** FNV-1a of the key, mapped to [0, 1). Stable across processes, so replicas agree on a key. */
export function hashToUnit(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  // One more mixing round (murmur3's finalizer): FNV's low bits alone cluster for similar keys.
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return (hash >>> 0) / 2 ** 32;
}
