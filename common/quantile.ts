// One definition of the figures zkfleet reports over samples (canary
// latencies, sync lag, step durations for estimates): the sample at rank
// floor(q * n) of the sorted values, so p50 of an even count is the upper
// middle one and p99 of few samples is their largest. Pure.

/** The q-quantile of `xs` (0 <= q <= 1); undefined for no samples. */
export function quantile(xs: readonly number[], q: number): number | undefined {
  if (xs.length === 0) return undefined;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}
