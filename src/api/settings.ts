/** The HTTP API's own limits (rate limits, per-request cost caps), parsed once from the server config. */

/** One token bucket: `burst` requests at once, refilled at `perMinute` per minute. */
export interface BucketLimit {
  perMinute: number;
  burst: number;
}

/** Rate limits by caller and route class (token buckets; 429 with Retry-After when empty). */
export interface RateLimits {
  /** Off: no limits (tests and benchmarks that measure something else). */
  enabled: boolean;
  /** Per API key, on every authenticated route. */
  key: BucketLimit;
  /** Per source address, on every route (bad keys and unauthenticated calls count here only). */
  address: BucketLimit;
  /** Per source address for calls without a valid key (missing, unknown, revoked or expired). */
  anonymous: BucketLimit;
  /** Per key on routes marked expensive (plans, invoices, charge runs). */
  expensive: BucketLimit;
}

/** Limits of the HTTP API. */
export interface ApiSettings {
  /** Most Monte-Carlo runs one POST /v1/plans may ask for. */
  planMaxRuns: number;
  rate: RateLimits;
}

/** The defaults (also what `zumbido serve` uses when no ZUMBIDO_RATE_* variable is set). */
export const DEFAULT_API_SETTINGS: ApiSettings = {
  planMaxRuns: 2000,
  rate: {
    enabled: true,
    key: { perMinute: 1200, burst: 200 },
    address: { perMinute: 6000, burst: 1000 },
    anonymous: { perMinute: 60, burst: 20 },
    expensive: { perMinute: 30, burst: 5 },
  },
};
