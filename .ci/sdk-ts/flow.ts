// Drive the whole API with openapi-fetch over the types openapi-typescript generated from the served
// schema (api.d.ts, beside this file once .ci/sdk-ts/run has made it). tsc checks every call against the schema;
// at run time each answer must have its declared status and exactly its model's fields.
// Usage: node out/flow.js http://127.0.0.1:PORT photo.jpg
import { readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import createClient, { type Middleware } from "openapi-fetch";
import { Webhook } from "standardwebhooks";
import type { components, paths } from "./api.js";

type Schemas = components["schemas"];
type Keys<T> = Record<keyof T, true>;

// Each model's fields, checked by the compiler against the generated types (a missing or extra key fails tsc).
const IMAGE = {
  id: true, user: true, image: true, image_url: true, title: true, description: true, uploaded_at: true,
  updated_at: true, width: true, height: true, format: true, mime_type: true, size: true, checksum: true,
  upload_checksum: true, original_filename: true, variants: true, processing: true,
} satisfies Keys<Schemas["Image"]>;
// The upload answers every field of the detail.
const IMAGE_UPLOAD = IMAGE satisfies Keys<Schemas["ImageUpload"]>;
IMAGE_UPLOAD satisfies Keys<Schemas["DirectUploadComplete"]>;
const DIRECT_UPLOAD_PUT = {
  id: true, method: true, url: true, headers: true, key: true, expires_at: true,
} satisfies Keys<Schemas["DirectUploadPut"]>;
const ACCOUNT = {
  id: true, email: true, username: true, date_joined: true, email_verified: true, usage: true,
} satisfies Keys<Schemas["Account"]>;
const TOKENS = { access: true, refresh: true } satisfies Keys<Schemas["TokenPair"]>;
const SIGNUP = { user: true, tokens: true } satisfies Keys<Schemas["SignupResponse"]>;
const HEALTH = {
  status: true, database: true, storage: true, cache: true, broker: true,
} satisfies Keys<Schemas["Health"]>;
const WEBHOOK = {
  id: true, url: true, events: true, description: true, enabled: true, created_at: true, updated_at: true,
  failing_since: true,
} satisfies Keys<Schemas["WebhookEndpoint"]>;
const WEBHOOK_WITH_SECRET = { ...WEBHOOK, secret: true } satisfies Keys<Schemas["WebhookEndpointCreate"]>;
const DELIVERY = {
  id: true, event: true, state: true, attempts: true, status_code: true, duration_ms: true, response: true,
  error: true, last_attempt_at: true, next_attempt_at: true, created_at: true,
} satisfies Keys<Schemas["WebhookDelivery"]>;

/** A webhook receiver on loopback, as the README's Node example: the raw body, verified with standardwebhooks. */
async function webhookReceiver(): Promise<{ url: string; received: { headers: Record<string, string>; body: string }[]; close(): void }> {
  const received: { headers: Record<string, string>; body: string }[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      received.push({ headers: req.headers as Record<string, string>, body: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/hooks`, received, close: () => server.close() };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within 30 s`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

type Event = { type: string; data: { id?: number; endpoint?: number } };

let calls = 0;

type Result<D, E> = { data?: D; error?: E; response: Response };

function expect(name: string, response: Response, status: number, body: unknown, fields?: object): void {
  calls += 1;
  if (response.status !== status) {
    throw new Error(`${name}: expected ${status}, got ${response.status}: ${JSON.stringify(body)}`);
  }
  if (fields !== undefined) {
    const [got, want] = [Object.keys(body as object).sort(), Object.keys(fields).sort()];
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      throw new Error(`${name}: fields ${got.join(",")}, declared ${want.join(",")}`);
    }
  }
  console.log(`  ${name}: ${response.status}`);
}

/** A success: the status, and (given `fields`) exactly the model's fields; the data as its declared type. */
function ok<D, E>(name: string, result: Result<D, E>, status: number, fields?: object): NonNullable<D> {
  expect(name, result.response, status, result.data ?? result.error, fields);
  return result.data as NonNullable<D>;
}

/** An error: the status; the body as the error models the operation declares (FieldErrors, Error). */
function failed<D, E>(name: string, result: Result<D, E>, status: number): NonNullable<E> {
  expect(name, result.response, status, result.error ?? result.data);
  return result.error as NonNullable<E>;
}

function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

async function main(baseUrl: string, photo: string): Promise<void> {
  const started = performance.now();
  const publicApi = createClient<paths>({ baseUrl });
  let access = "";
  const bearer: Middleware = {
    onRequest({ request }) {
      request.headers.set("Authorization", `Bearer ${access}`);
      return request;
    },
  };
  const api = createClient<paths>({ baseUrl });
  api.use(bearer);

  const health = ok("health", await publicApi.GET("/api/health/"), 200, HEALTH);
  assert(health.status === "ok", "health is ok");

  const suffix = Math.random().toString(36).slice(2, 10);
  const email = `ts-${suffix}@example.com`;
  const password = "Ts-Password-42";
  const signup = { email, username: `ts${suffix}`, password, password2: password };
  const created = ok("signup", await publicApi.POST("/api/auth/signup/", { body: signup }), 201, SIGNUP);
  assert(created.user.email === email, "signup answers the user");
  const taken = failed("signup again (400)",
    await publicApi.POST("/api/auth/signup/", { body: signup }), 400);
  assert("email" in taken, "the 400 names the email");
  const wrong = failed("login, wrong password (401)",
    await publicApi.POST("/api/auth/login/", { body: { email, password: "not-it" } }), 401);
  assert(wrong.detail, "the 401 has a detail");
  const tokens = ok("login", await publicApi.POST("/api/auth/login/", { body: { email, password } }), 200, TOKENS);
  access = tokens.access;

  const me = ok("me", await api.GET("/api/auth/me/"), 200, ACCOUNT);
  assert(me.email === email, "me is the new user");

  // Upload (multipart): the body goes as FormData, so fetch sets the boundary.
  const bytes = readFileSync(photo);
  const ids: number[] = [];
  for (const n of [1, 2, 3]) {
    const uploaded = ok("upload " + n, await api.POST("/api/images/upload/", {
      body: { image: new Blob([bytes], { type: "image/jpeg" }), title: `Photo ${n}`, description: "From TypeScript" },
      bodySerializer(body) {
        const form = new FormData();
        form.append("image", body.image, `photo-${n}.jpg`);
        for (const key of ["title", "description"] as const) {
          const value = body[key];
          if (value !== undefined) form.append(key, value);
        }
        return form;
      },
    }), 201, IMAGE_UPLOAD);
    assert(uploaded.format === "JPEG" && uploaded.title === `Photo ${n}`, "the upload is recorded");
    ids.push(uploaded.id);
  }

  // List: pages of two, following Link rel="next"; the count in X-Total-Count.
  const seen: number[] = [];
  let cursor: string | undefined;
  let pages = 0;
  for (;;) {
    const page = await api.GET("/api/images/", { params: { query: { limit: 2, count: true, ...(cursor ? { cursor } : {}) } } });
    const items = ok(`list page ${pages + 1} (?limit=2)`, page, 200);
    items.forEach((item, index) => ok(`  item ${index + 1}`, { data: item, response: page.response }, 200, IMAGE));
    assert(page.response.headers.get("X-Total-Count") === "3", "X-Total-Count is 3");
    seen.push(...items.map((item) => item.id));
    pages += 1;
    const link = page.response.headers.get("Link");
    if (!link) break;
    const next = new URL(link.split(";")[0]!.trim().replace(/^<|>$/g, ""));
    cursor = next.searchParams.get("cursor") ?? undefined;
  }
  assert(pages === 2 && JSON.stringify(seen) === JSON.stringify([...ids].reverse()), `pages ${pages}, ids ${seen}`);
  const badLimit = failed("list, ?limit=0 (400)",
    await api.GET("/api/images/", { params: { query: { limit: 0 } } }), 400);
  assert("limit" in badLimit, "the 400 names limit");

  const id = ids[0]!;
  const image = ok("detail", await api.GET("/api/images/{id}/", { params: { path: { id } } }), 200, IMAGE);
  for (const [name, variant] of Object.entries(image.variants)) {
    assert(variant === null || (variant.url.startsWith("http") && typeof variant.width === "number"), `variant ${name}`);
  }
  const patched = ok("PATCH title", await api.PATCH("/api/images/{id}/", {
    params: { path: { id } }, body: { title: "Renamed" },
  }), 200, IMAGE);
  assert(patched.title === "Renamed" && patched.description === image.description, "PATCH changes the title only");

  ok("delete (the spec's /delete/ path)",
    await api.DELETE("/api/images/{id}/delete/", { params: { path: { id } } }), 204);
  const gone = failed("detail of a deleted image (404)",
    await api.GET("/api/images/{id}/", { params: { path: { id } } }), 404);
  assert(gone.detail, "the 404 has a detail");

  // Direct upload by PUT: the answer is a union on `method`; a PUT's has the URL, headers and key.
  const signed = ok("direct upload by PUT, sign", await api.POST("/api/images/uploads/", {
    body: { filename: "put.jpg", size: bytes.length, method: "PUT", content_type: "image/jpeg" },
  }), 201, DIRECT_UPLOAD_PUT);
  assert(signed.method === "PUT" && "headers" in signed, "a PUT is signed");
  const stored = await fetch(signed.url, { method: "PUT", headers: signed.headers, body: new Blob([bytes]) });
  assert(stored.status === 200 && stored.headers.get("ETag"), `the store takes the PUT (${stored.status})`);
  const completed = ok("direct upload by PUT, complete", await api.POST("/api/images/uploads/{id}/complete/", {
    params: { path: { id: signed.id } },
  }), 201, IMAGE_UPLOAD);
  assert(completed.format === "JPEG" && completed.width === 400, "the PUT's bytes became the image");

  // Webhooks: an endpoint managed through the API; the served instance delivers inline (no broker), here.
  const receiver = await webhookReceiver();
  const hook = ok("webhook, register", await api.POST("/api/webhooks/", {
    body: { url: receiver.url, events: ["image.deleted"] },
  }), 201, WEBHOOK_WITH_SECRET);
  assert(hook.secret.startsWith("whsec_") && hook.events.join() === "image.deleted", "registered with a secret");
  const refused = failed("webhook, a metadata address (400)",
    await api.POST("/api/webhooks/", { body: { url: "http://169.254.169.254/" } }), 400);
  assert("url" in refused, "the 400 names the url");
  const hooks = ok("webhooks, list", await api.GET("/api/webhooks/"), 200);
  hooks.forEach((item) => ok("  endpoint", { data: item, response: new Response(null, { status: 200 }) }, 200, WEBHOOK));
  ok("webhook, PATCH", await api.PATCH("/api/webhooks/{id}/", {
    params: { path: { id: hook.id } }, body: { description: "From TypeScript" },
  }), 200, WEBHOOK);
  const delivery = ok("webhook, test event",
    await api.POST("/api/webhooks/{id}/test/", { params: { path: { id: hook.id } } }), 202, DELIVERY);
  await until(() => receiver.received.length >= 1, "the test event");
  const test = new Webhook(hook.secret).verify(receiver.received[0]!.body, receiver.received[0]!.headers) as Event;
  assert(test.type === "webhook.test" && receiver.received[0]!.headers["webhook-id"] === delivery.event.id,
    "the test event arrives signed, with its delivery's webhook-id");
  const rotated = ok("webhook, rotate the secret",
    await api.POST("/api/webhooks/{id}/rotate-secret/", { params: { path: { id: hook.id } } }), 200, WEBHOOK_WITH_SECRET);
  ok("delete an image (image.deleted)",
    await api.DELETE("/api/images/{id}/", { params: { path: { id: ids[1]! } } }), 204);
  await until(() => receiver.received.length >= 2, "image.deleted");
  for (const secret of [hook.secret, rotated.secret]) {  // both sign during the rotation's overlap
    const deleted = new Webhook(secret).verify(receiver.received[1]!.body, receiver.received[1]!.headers) as Event;
    assert(deleted.type === "image.deleted" && deleted.data.id === ids[1], "image.deleted names the image");
  }
  const deliveries = ok("webhook, deliveries",
    await api.GET("/api/webhooks/{id}/deliveries/", { params: { path: { id: hook.id }, query: { limit: 10 } } }), 200);
  deliveries.forEach((item) => ok("  delivery", { data: item, response: new Response(null, { status: 200 }) }, 200, DELIVERY));
  assert(deliveries.map((item) => `${item.event.type}:${item.state}`).join() === "image.deleted:delivered,webhook.test:delivered",
    "both deliveries listed, newest first, delivered");
  ok("webhook, redeliver", await api.POST("/api/webhooks/{id}/deliveries/{delivery_id}/redeliver/", {
    params: { path: { id: hook.id, delivery_id: delivery.id } },
  }), 202, DELIVERY);
  await until(() => receiver.received.length >= 3, "the redelivery");
  assert(receiver.received[2]!.headers["webhook-id"] === delivery.event.id, "redelivered with the same webhook-id");
  ok("webhook, delete", await api.DELETE("/api/webhooks/{id}/", { params: { path: { id: hook.id } } }), 204);
  failed("webhook, deleted (404)", await api.GET("/api/webhooks/{id}/", { params: { path: { id: hook.id } } }), 404);
  receiver.close();

  const refreshed = ok("token refresh",
    await publicApi.POST("/api/auth/token/refresh/", { body: { refresh: tokens.refresh } }), 200, TOKENS);
  access = refreshed.access;
  ok("me, refreshed token", await api.GET("/api/auth/me/"), 200, ACCOUNT);
  ok("logout", await publicApi.POST("/api/auth/logout/", { body: { refresh: refreshed.refresh } }), 200, {});
  failed("refresh after logout (401)",
    await publicApi.POST("/api/auth/token/refresh/", { body: { refresh: refreshed.refresh } }), 401);
  access = "not-a-token";
  failed("me, invalid token (401)", await api.GET("/api/auth/me/"), 401);

  console.log(`OK: ${calls} checks, every answer its declared model, in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

const [baseUrl, photo] = process.argv.slice(2);
if (!baseUrl || !photo) throw new Error("usage: node flow.js BASE_URL PHOTO");
await main(baseUrl, photo);
