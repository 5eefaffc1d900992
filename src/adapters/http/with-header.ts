/**
 * A copy of `headers` with `name` set to `value`. A loop, not `{ ...headers, [name]: value }`:
 * V8 (Node 20) builds an object spread followed by another key on a slow path, ~0.45 µs a call
 * against ~0.03 µs, and the objects it leaves behind reached the old space: under load `serve`
 * ran major GCs the bare handler never needed (bench/micro/object-spread.ts; docs/benchmarks.md,
 * issue 17's fourth pass).
 */
export function withHeader<V>(headers: Readonly<Record<string, V>>, name: string, value: V): Record<string, V> {
  const copy: Record<string, V> = {};
  for (const key in headers) copy[key] = headers[key]!;
  copy[name] = value;
  return copy;
}
