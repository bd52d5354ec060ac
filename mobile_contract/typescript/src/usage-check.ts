/**
 * Calls the app makes, type-checked by `npm run check` and never shipped. Each
 * `@ts-expect-error` line must fail to compile: if the contract or the generator loosens the
 * types, that line compiles, and `tsc` fails on the unused directive.
 *
 * Only a few operations of the contract appear here. If one is renamed, point its lines at the
 * new path: the calls that should compile then show what else changed.
 */
import { createWujiangClient, isProblem, newIdempotencyKey, paginate } from "./index";

const client = createWujiangClient({
  baseUrl: "https://api.example.org",
  getAccessToken: async () => "access-token",
});

export async function balance(): Promise<number> {
  const { data } = await client.GET("/v1/me/points");
  if (!data) throw new Error("no balance");
  const available: number = data.available;
  // @ts-expect-error: a number is not a string
  const wrong: string = data.available;
  // @ts-expect-error: no such field
  void data.availible;
  void wrong;
  return available + data.held;
}

export async function redeem(reward: string): Promise<string | null> {
  const key = newIdempotencyKey();
  const { data, error } = await client.POST("/v1/me/redemptions", {
    params: { header: { "Idempotency-Key": key } },
    body: { reward },
  });
  if (isProblem(error) && error.type.endsWith(":insufficient-points")) return null;
  if (!data) throw new Error("refused");
  return data.voucher_code;
}

export async function redeemWrongly(): Promise<void> {
  // @ts-expect-error: the body's `reward` is required
  await client.POST("/v1/me/redemptions", { params: { header: { "Idempotency-Key": "k" } }, body: {} });
  // @ts-expect-error: the Idempotency-Key header is required
  await client.POST("/v1/me/redemptions", { body: { reward: "bus-ride" } });
  // @ts-expect-error: misspelt path
  await client.POST("/v1/me/redemption", { body: { reward: "bus-ride" } });
}

export async function voucherIssued(redemptionId: string): Promise<boolean> {
  const { data } = await client.GET("/v1/me/redemptions/{redemption_id}", {
    params: { path: { redemption_id: redemptionId } },
  });
  // @ts-expect-error: the path parameter is required
  await client.GET("/v1/me/redemptions/{redemption_id}", { params: { path: {} } });
  return data?.status === "issued";
}

export async function greenPointsEarned(): Promise<number> {
  let earned = 0;
  const history = paginate(client, "/v1/me/points/history", {
    params: { query: { category: "green", limit: 50 } },
  });
  for await (const entry of history) {
    if (entry.kind === "award") earned += entry.points;
    // @ts-expect-error: history items have no `title`
    void entry.title;
  }
  // @ts-expect-error: `limit` is an integer, not a string
  await client.GET("/v1/me/points/history", { params: { query: { limit: "50" } } });
  // @ts-expect-error: the balance is not a paginated list
  paginate(client, "/v1/me/points");
  return earned;
}
