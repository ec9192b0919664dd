/** The label set of http_requests_total and http_request_duration_seconds. */
export interface HttpLabels {
  readonly method: string;
  readonly route: string;
  readonly status: string;
}

/** More distinct label sets than any route table has: past it, sets are built per call (never unbounded). */
const MAX_CACHED = 5_000;

/**
 * One label object per (route, method, status), built once (prom-client keeps it: never mutate it); the
 * response hook used to allocate an object and a status string per request. Routes are patterns
 * (`/api/organizations/:orgId/usage/events`, or "unmatched"), methods are the few Node's parser accepts,
 * statuses are three digits: the set is small.
 */
export class HttpLabelCache {
  private readonly byRoute = new Map<string, Map<string, Map<number, HttpLabels>>>();
  private size = 0;

  get(method: string, route: string, status: number): HttpLabels {
    let byMethod = this.byRoute.get(route);
    let byStatus = byMethod?.get(method);
    const hit = byStatus?.get(status);
    if (hit) return hit;
    const labels: HttpLabels = { method, route, status: String(status) };
    if (this.size >= MAX_CACHED) return labels;
    if (!byMethod) this.byRoute.set(route, (byMethod = new Map()));
    if (!byStatus) byMethod.set(method, (byStatus = new Map()));
    byStatus.set(status, labels);
    this.size++;
    return labels;
  }
}
