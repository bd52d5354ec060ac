/**
 * Typed client for the Smart Wujiang API, built on openapi-fetch.
 *
 * Every path, parameter, body and response type comes from `schema.d.ts`, which is generated
 * from the committed contract (`mobile_contract/openapi.json`). This file adds only what the
 * contract cannot say by itself: the bearer token, idempotency keys, cursor pagination and
 * problem details.
 *
 * @packageDocumentation
 */
import createClient, {
  type Client,
  type ClientOptions,
  type ClientPathsWithMethod,
  type MethodResponse,
  type Middleware,
} from "openapi-fetch";
import type { components, operations, paths } from "./schema";

export type { components, operations, paths };

/** The client `createWujiangClient` returns: openapi-fetch's, typed by the contract. */
export type WujiangClient = Client<paths>;

/** The options of {@link createWujiangClient}. */
export interface WujiangClientOptions {
  /** Root of the API, e.g. `https://api.example.org`; the paths already start with `/v1`. */
  baseUrl: string;
  /**
   * The resident's current access token, or `null`/`undefined` to send the request without
   * one. It is called before every request, so a refreshed token is used as soon as the app
   * has it.
   */
  getAccessToken?: () => string | null | undefined | Promise<string | null | undefined>;
  /** Used instead of `globalThis.fetch`, e.g. in tests or to add instrumentation. */
  fetch?: ClientOptions["fetch"];
}

/**
 * Creates the API client.
 *
 * With `getAccessToken`, every request that does not already carry an `Authorization` header
 * gets `Authorization: Bearer <token>`. A header passed explicitly to a call takes precedence,
 * for example kiosk credentials.
 *
 * @example
 * const client = createWujiangClient({ baseUrl, getAccessToken: () => session.accessToken });
 * const { data, error } = await client.GET("/v1/me/points");
 */
export function createWujiangClient(options: WujiangClientOptions): WujiangClient {
  const client = createClient<paths>({
    baseUrl: options.baseUrl,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  const getAccessToken = options.getAccessToken;
  if (getAccessToken) {
    const bearer: Middleware = {
      async onRequest({ request }) {
        if (request.headers.has("Authorization")) return undefined;
        const token = await getAccessToken();
        if (token) request.headers.set("Authorization", `Bearer ${token}`);
        return request;
      },
    };
    client.use(bearer);
  }
  return client;
}

/**
 * A new key for the `Idempotency-Key` header.
 *
 * Every retryable write (one that moves points, stock or money, such as redeeming a reward)
 * takes an `Idempotency-Key` header, and the server carries out a key's request only once:
 * a retry with the same key gets the first request's outcome back instead of doing it again.
 * So make one key per user action, before the first attempt, and send that same key on every
 * retry of it (after a timeout, a dropped connection or a 5xx). A new key means a new action.
 * Reusing a key for a different request is refused (problem type ending in
 * `idempotency-key-reused`).
 *
 * Needs `crypto.randomUUID()`: browsers (secure contexts) and Node 19+ have it; React Native
 * needs a polyfill.
 *
 * @example
 * const key = newIdempotencyKey();
 * const send = () =>
 *   client.POST("/v1/me/redemptions", {
 *     params: { header: { "Idempotency-Key": key } },
 *     body: { reward: "bus-ride" },
 *   });
 * let result = await send();
 * if (result.response.status >= 500) result = await send(); // same key: redeemed at most once
 */
export function newIdempotencyKey(): string {
  return crypto.randomUUID();
}

/**
 * An RFC 9457 `application/problem+json` error body, as every error of the API is sent (OAuth
 * endpoints excepted, which keep RFC 6749's `error` and `error_description`).
 *
 * Handle problems by `type`, a URI such as `urn:wujiang:problem:insufficient-points`; `title`
 * is for people and may change. Extension members such as `balance` or `retry_after` sit
 * beside the standard ones.
 *
 * The contract's `Problem` schema (`ValidationProblem` adds `errors` for
 * `validation-error`); each operation lists the `type`s it can answer as the examples of its
 * error responses.
 */
export type Problem = components["schemas"]["Problem"];

/** A `validation-error` problem: which field broke which rule (the input is never echoed). */
export type ValidationProblem = components["schemas"]["ValidationProblem"];

/**
 * Whether an error body is a {@link Problem}. openapi-fetch types `error` by the responses
 * the contract lists for the operation; this checks what actually arrived.
 */
export function isProblem(body: unknown): body is Problem {
  if (typeof body !== "object" || body === null) return false;
  const { type, title, status } = body as Record<string, unknown>;
  return typeof type === "string" && typeof title === "string" && typeof status === "number";
}

/** Thrown by {@link paginate} when a page is refused; `problem` says why, when it can. */
export class ApiError extends Error {
  readonly response: Response;
  readonly body: unknown;
  readonly problem: Problem | undefined;

  constructor(response: Response, body: unknown) {
    const problem = isProblem(body) ? body : undefined;
    super(`${response.status} ${problem?.title ?? response.statusText}`.trim());
    this.name = "ApiError";
    this.response = response;
    this.body = body;
    this.problem = problem;
  }
}

type GetPath = ClientPathsWithMethod<WujiangClient, "get">;
type GetOperation<P extends GetPath> = paths[P]["get"];
type QueryOf<P extends GetPath> = NonNullable<GetOperation<P>["parameters"]["query"]>;
type Page = { items: readonly unknown[]; next_cursor: string | null };

/** A GET operation that answers `{ items, next_cursor }` and takes `cursor` and `limit`. */
export type PaginatedPath = {
  [P in GetPath]: [QueryOf<P>] extends [never]
    ? never
    : "cursor" | "limit" extends keyof QueryOf<P>
      ? MethodResponse<WujiangClient, "get", P> extends Page
        ? P
        : never
      : never;
}[GetPath];

/** The element type of a paginated operation's `items`. */
export type PageItem<P extends PaginatedPath> =
  MethodResponse<WujiangClient, "get", P> extends { items: readonly (infer T)[] } ? T : never;

/** The parameters of a paginated operation, less `cursor`, which {@link paginate} sets. */
export type PageParams<P extends PaginatedPath> = Omit<GetOperation<P>["parameters"], "query"> & {
  query?: Omit<QueryOf<P>, "cursor">;
};

/** The options of {@link paginate}: the operation's parameters and per-request fetch options. */
export type PageInit<P extends PaginatedPath> = {
  headers?: Record<string, string>;
  signal?: AbortSignal;
} & ({} extends PageParams<P> ? { params?: PageParams<P> } : { params: PageParams<P> });

/**
 * Every item of a cursor-paginated list, fetching page after page as the loop asks for more:
 * each response's `next_cursor` goes back as `cursor` until it is `null`. `limit` in
 * `params.query` sets the page size. A refused page throws {@link ApiError}.
 *
 * @example
 * for await (const entry of paginate(client, "/v1/me/points/history", {
 *   params: { query: { category: "green", limit: 50 } },
 * })) {
 *   console.log(entry.at, entry.points);
 * }
 */
export async function* paginate<P extends PaginatedPath>(
  client: WujiangClient,
  path: P,
  ...[init]: {} extends PageInit<P> ? [init?: PageInit<P>] : [init: PageInit<P>]
): AsyncGenerator<PageItem<P>, void, undefined> {
  // openapi-fetch cannot check a call whose path is a type parameter; the signature above
  // is what callers are held to, so this one call goes through an untyped view of GET.
  const get = client.GET as unknown as (
    path: string,
    init: object,
  ) => Promise<{ data?: Page; error?: unknown; response: Response }>;
  let cursor: string | null = null;
  do {
    const params: { query?: object } = init?.params ?? {};
    const query = { ...params.query, ...(cursor === null ? {} : { cursor }) };
    const { data, error, response } = await get(path, { ...init, params: { ...params, query } });
    if (data === undefined) throw new ApiError(response, error);
    yield* data.items as readonly PageItem<P>[];
    cursor = data.next_cursor;
  } while (cursor !== null);
}
