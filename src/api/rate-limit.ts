/** Token-bucket rate limits per API key and per source address (429 with Retry-After when empty). */
import type { FastifyReply } from "fastify";
import { problem, sendProblem } from "./problem.js";
import type { BucketLimit } from "./settings.js";

/** A refusal: how long until one request's worth of tokens is back. */
export interface Refusal {
  retryAfterS: number;
}

/** Named token buckets with one limit, on an injected clock; the oldest are dropped past `maxEntries`. */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly limit: BucketLimit,
    private readonly now: () => number,
    private readonly maxEntries = 50_000,
  ) {}

  /** Takes one token from `name`'s bucket; a Refusal when it is empty. */
  take(name: string): Refusal | null {
    const now = this.now();
    const perMs = this.limit.perMinute / 60_000;
    const b = this.buckets.get(name) ?? { tokens: this.limit.burst, at: now };
    b.tokens = Math.min(this.limit.burst, b.tokens + Math.max(0, now - b.at) * perMs);
    b.at = now;
    this.buckets.delete(name);
    this.buckets.set(name, b); // most recently used last
    if (this.buckets.size > this.maxEntries) this.buckets.delete(this.buckets.keys().next().value!);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return null;
    }
    return { retryAfterS: Math.max(1, Math.ceil((1 - b.tokens) / perMs / 1000)) };
  }
}

/** Answers 429 problem+json with Retry-After, naming which limit was hit and how to stay under it. */
export async function sendTooMany(reply: FastifyReply, r: Refusal, what: string): Promise<FastifyReply> {
  reply.header("retry-after", String(r.retryAfterS));
  await sendProblem(
    reply,
    problem(429, "rate-limited", `too many requests ${what}; retry after ${r.retryAfterS} s`, {
      instance: reply.request.url,
    }),
  );
  return reply;
}
