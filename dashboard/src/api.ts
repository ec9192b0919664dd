// Calls the service's API with the pasted key. Errors keep the API's body: {statusCode, error, message, details}.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> | undefined,
  ) {
    super(message);
  }

  /** Per-field messages of a 400 VALIDATION_FAILED ("baseCredits", "multipliers.complexity.min", "limits.x", "features[1]"). */
  get fields(): Record<string, string[]> {
    const fields = this.details?.fields;
    return fields && typeof fields === 'object' ? (fields as Record<string, string[]>) : {};
  }
}

export type Query = Record<string, string | number | undefined | null>;

export class Api {
  constructor(
    private readonly key: string,
    private readonly onUnauthorized: () => void = () => undefined,
  ) {}

  get<T>(path: string, query?: Query): Promise<T> {
    return this.request<T>('GET', path, undefined, query);
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('POST', path, body ?? {});
  }

  put<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PUT', path, body);
  }

  patch<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PATCH', path, body);
  }

  delete<T>(path: string): Promise<T> {
    return this.request<T>('DELETE', path);
  }

  /** Fetches a file with the key (a plain link cannot send it) and saves it through a temporary object URL. */
  async download(path: string, query: Query, filename: string): Promise<void> {
    const response = await this.fetch('GET', path, undefined, query, 'text/csv');
    const blob = await response.blob();
    const url = URL.createObjectURL(blob);
    const link = document.createElement('a');
    link.href = url;
    link.download = filename;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }

  private async request<T>(method: string, path: string, body?: unknown, query?: Query): Promise<T> {
    const response = await this.fetch(method, path, body, query, 'application/json');
    const text = await response.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  private async fetch(method: string, path: string, body: unknown, query: Query | undefined, accept: string): Promise<Response> {
    const url = new URL(path, window.location.origin);
    for (const [name, value] of Object.entries(query ?? {})) {
      if (value !== undefined && value !== null && value !== '') url.searchParams.set(name, String(value));
    }
    const headers: Record<string, string> = { Authorization: `Bearer ${this.key}`, Accept: accept };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'omit', cache: 'no-store' });
    } catch {
      throw new ApiError(0, 'NETWORK_ERROR', 'The service did not answer. Is it running?', undefined);
    }
    if (response.ok) return response;
    let payload: { error?: string; message?: string | string[]; details?: Record<string, unknown> } = {};
    try {
      payload = await response.json();
    } catch {
      // Not JSON (a proxy's page): keep the status.
    }
    const message = Array.isArray(payload.message) ? payload.message.join('; ') : (payload.message ?? `${response.status} ${response.statusText}`);
    const error = new ApiError(response.status, payload.error ?? `HTTP_${response.status}`, message, payload.details);
    if (response.status === 401) this.onUnauthorized();
    throw error;
  }
}

/** "/api/organizations/a b/usage" with each segment encoded. */
export function apiPath(...segments: (string | number)[]): string {
  return `/api/${segments.map((s) => encodeURIComponent(String(s))).join('/')}`;
}
